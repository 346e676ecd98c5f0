"""Shapes of the management API's lifecycle policy operations (Amazon ECR's names)."""

from __future__ import annotations

from rest_framework import serializers

from apps.lifecycle.models import PreviewStatus


def _policy_text(**kwargs) -> serializers.CharField:
    # Kept byte for byte: GetLifecyclePolicy returns the text exactly as it was put.
    return serializers.CharField(
        trim_whitespace=False,
        allow_blank=True,
        help_text="the policy, as JSON text: Amazon ECR's lifecycle policy (100 to 30,720 characters)",
        **kwargs,
    )


class PutLifecyclePolicySerializer(serializers.Serializer):
    lifecyclePolicyText = _policy_text()


class LifecyclePolicySerializer(serializers.Serializer):
    registryId = serializers.CharField()
    repositoryName = serializers.CharField()
    lifecyclePolicyText = serializers.CharField()
    lastEvaluatedAt = serializers.DateTimeField(allow_null=True)


class StartPreviewSerializer(serializers.Serializer):
    lifecyclePolicyText = _policy_text(required=False)


class StartPreviewResponseSerializer(serializers.Serializer):
    registryId = serializers.CharField()
    repositoryName = serializers.CharField()
    lifecyclePolicyText = serializers.CharField()
    status = serializers.ChoiceField(choices=PreviewStatus.choices)


class PreviewQuerySerializer(serializers.Serializer):
    maxResults = serializers.IntegerField(min_value=1, max_value=1000, default=100)
    nextToken = serializers.RegexField(
        r"^[0-9]{1,9}$", required=False, help_text="the `nextToken` of the previous page"
    )


class PreviewActionSerializer(serializers.Serializer):
    type = serializers.CharField()


class PreviewResultSerializer(serializers.Serializer):
    imageTags = serializers.ListField(child=serializers.CharField())
    imageDigest = serializers.CharField()
    imagePushedAt = serializers.DateTimeField()
    lastPulledAt = serializers.DateTimeField(
        allow_null=True, help_text="Berth's: when a pull last fetched the image (null: never pulled)"
    )
    action = PreviewActionSerializer()
    appliedRulePriority = serializers.IntegerField()
    alsoExpires = serializers.ListField(
        child=serializers.CharField(),
        help_text="Berth's: the referrers and platform manifests that go with the image",
    )


class PreviewSummarySerializer(serializers.Serializer):
    expiringImageTotalCount = serializers.IntegerField()


class LifecyclePolicyPreviewSerializer(serializers.Serializer):
    registryId = serializers.CharField()
    repositoryName = serializers.CharField()
    lifecyclePolicyText = serializers.CharField()
    status = serializers.ChoiceField(choices=PreviewStatus.choices)
    previewResults = PreviewResultSerializer(many=True)
    summary = PreviewSummarySerializer()
    nextToken = serializers.CharField(allow_null=True)

"""Shapes of the pull-through cache rule operations (Amazon ECR's names; Berth
takes the upstream's credentials directly where ECR takes a Secrets Manager ARN,
and never shows the password)."""

from __future__ import annotations

from rest_framework import serializers

from apps.replication.models.cache import ECR_REPOSITORY_PREFIX_MAX_LENGTH, UPSTREAM_URL_MAX_LENGTH


class UpstreamCredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=255)
    password = serializers.CharField(max_length=4096, write_only=True, trim_whitespace=False)


class ShownUpstreamCredentialsSerializer(serializers.Serializer):
    username = serializers.CharField()


_RECHECK_HELP = (
    "Berth's: seconds between re-checks of a cached tag upstream (default BERTH_PULL_THROUGH_TAG_RECHECK_SECONDS)"
)
_UPSTREAM_PREFIX_HELP = "the upstream repositories' prefix: `<prefix>/<path>` caches `<upstreamRepositoryPrefix>/<path>`; ROOT (the default) for none"


class CreateRuleSerializer(serializers.Serializer):
    ecrRepositoryPrefix = serializers.CharField(max_length=ECR_REPOSITORY_PREFIX_MAX_LENGTH)
    upstreamRegistryUrl = serializers.CharField(
        max_length=UPSTREAM_URL_MAX_LENGTH, help_text="https://host[:port], host[:port], or http://host[:port]"
    )
    upstreamRepositoryPrefix = serializers.CharField(required=False, allow_blank=True, help_text=_UPSTREAM_PREFIX_HELP)
    credentials = UpstreamCredentialsSerializer(
        required=False, help_text="the upstream's username and password (sealed)"
    )
    tagRecheckSeconds = serializers.IntegerField(required=False, min_value=1, help_text=_RECHECK_HELP)


class UpdateRuleSerializer(serializers.Serializer):
    upstreamRegistryUrl = serializers.CharField(max_length=UPSTREAM_URL_MAX_LENGTH, required=False)
    upstreamRepositoryPrefix = serializers.CharField(required=False, allow_blank=True, help_text=_UPSTREAM_PREFIX_HELP)
    credentials = UpstreamCredentialsSerializer(required=False, allow_null=True, help_text="null removes them")
    tagRecheckSeconds = serializers.IntegerField(required=False, min_value=1, help_text=_RECHECK_HELP)


class RuleSerializer(serializers.Serializer):
    registryId = serializers.CharField()
    ecrRepositoryPrefix = serializers.CharField()
    upstreamRegistryUrl = serializers.CharField()
    upstreamRepositoryPrefix = serializers.CharField()
    credentials = ShownUpstreamCredentialsSerializer(allow_null=True, help_text="the username only")
    credentialsConfigured = serializers.BooleanField()
    tagRecheckSeconds = serializers.IntegerField()
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()


class DescribeRulesQuerySerializer(serializers.Serializer):
    ecrRepositoryPrefixes = serializers.ListField(
        child=serializers.CharField(max_length=ECR_REPOSITORY_PREFIX_MAX_LENGTH), required=False, max_length=100
    )
    maxResults = serializers.IntegerField(min_value=1, max_value=1000, default=100)
    nextToken = serializers.RegexField(
        r"^[0-9]{1,9}$", required=False, help_text="the `nextToken` of the previous page"
    )


class DescribeRulesSerializer(serializers.Serializer):
    pullThroughCacheRules = RuleSerializer(many=True)
    nextToken = serializers.CharField(allow_null=True)


class ValidationSerializer(RuleSerializer):
    isValid = serializers.BooleanField()
    failure = serializers.CharField(allow_blank=True, help_text="why not, when isValid is false")

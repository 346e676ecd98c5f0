"""Shapes of the management API's scanning operations (Amazon ECR's names)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.api.registry.serializers import ImageIdentifierSerializer
from apps.scanning import selectors
from apps.scanning.models import SEVERITIES, ScanFrequency, ScanType

from .summaries import ImageScanStatusSerializer


class StartImageScanRequestSerializer(serializers.Serializer):
    imageId = ImageIdentifierSerializer(help_text="the image, by digest or tag")


class StartImageScanResponseSerializer(serializers.Serializer):
    registryId = serializers.CharField()
    repositoryName = serializers.CharField()
    imageId = ImageIdentifierSerializer()
    imageScanStatus = ImageScanStatusSerializer()


class FindingsQuerySerializer(serializers.Serializer):
    imageDigest = serializers.CharField(required=False, max_length=1024)
    imageTag = serializers.CharField(required=False, max_length=300)
    severity = serializers.ChoiceField(
        choices=SEVERITIES, required=False, help_text="only findings at this severity or above"
    )
    max_results = serializers.IntegerField(min_value=1, max_value=1000, default=100)
    next = serializers.CharField(required=False, help_text="the `next` token of the previous page")


class AttributeSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.CharField()


class FindingSerializer(serializers.Serializer):
    """ECR's ImageScanFinding, with the package and the layer as attributes."""

    name = serializers.CharField(source="advisory_id", help_text="the advisory's id (OSV, e.g. GHSA-…, PYSEC-…)")
    description = serializers.SerializerMethodField()
    uri = serializers.SerializerMethodField()
    severity = serializers.CharField()
    attributes = serializers.SerializerMethodField()

    def get_description(self, finding) -> str:
        return selectors.finding_description(finding)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_uri(self, finding) -> str | None:
        return selectors.finding_uri(finding)

    @extend_schema_field(AttributeSerializer(many=True))
    def get_attributes(self, finding) -> list[dict]:
        return selectors.finding_attributes(finding)


class ImageScanFindingsSerializer(serializers.Serializer):
    imageScanCompletedAt = serializers.DateTimeField(allow_null=True)
    vulnerabilitySourceUpdatedAt = serializers.DateTimeField(allow_null=True)
    findingSeverityCounts = serializers.DictField(child=serializers.IntegerField())
    findings = FindingSerializer(many=True)


class DescribeImageScanFindingsSerializer(serializers.Serializer):
    registryId = serializers.CharField()
    repositoryName = serializers.CharField()
    imageId = ImageIdentifierSerializer()
    imageScanStatus = ImageScanStatusSerializer()
    imageScanFindings = ImageScanFindingsSerializer(allow_null=True)
    next = serializers.CharField(allow_null=True)


class RepositoryFilterSerializer(serializers.Serializer):
    filter = serializers.CharField(max_length=256, help_text="a repository name; * stands for any characters")
    filterType = serializers.ChoiceField(choices=["WILDCARD"], default="WILDCARD")


class ScanningRuleSerializer(serializers.Serializer):
    scanFrequency = serializers.ChoiceField(choices=ScanFrequency.choices)
    repositoryFilters = RepositoryFilterSerializer(many=True, help_text="at most 100")


class ScanningConfigurationSerializer(serializers.Serializer):
    scanType = serializers.ChoiceField(choices=ScanType.choices, source="scan_type")
    rules = ScanningRuleSerializer(many=True, help_text="at most 2")


class RegistryScanningConfigurationSerializer(serializers.Serializer):
    registryId = serializers.CharField()
    scanningConfiguration = ScanningConfigurationSerializer()


class PutScanningConfigurationSerializer(serializers.Serializer):
    scanType = serializers.ChoiceField(choices=ScanType.choices)
    rules = ScanningRuleSerializer(many=True, required=False, default=list)


SBOM_FORMATS = [("cyclonedx", "CycloneDX 1.6 JSON"), ("spdx", "SPDX 2.3 JSON")]


class SbomQuerySerializer(serializers.Serializer):
    imageDigest = serializers.CharField(required=False, max_length=1024)
    imageTag = serializers.CharField(required=False, max_length=300)
    sbomFormat = serializers.ChoiceField(choices=SBOM_FORMATS, default="cyclonedx")


class AttachSbomRequestSerializer(serializers.Serializer):
    imageId = ImageIdentifierSerializer(help_text="the image, by digest or tag")
    sbomFormat = serializers.ChoiceField(choices=SBOM_FORMATS, default="cyclonedx")


class AttachedSbomSerializer(serializers.Serializer):
    imageDigest = serializers.CharField(help_text="the referrer's manifest digest")
    artifactType = serializers.CharField()
    subjectDigest = serializers.CharField(help_text="the image it describes")


class AttachSbomResponseSerializer(serializers.Serializer):
    referrers = AttachedSbomSerializer(many=True)

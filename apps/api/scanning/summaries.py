"""An image's scan in a few fields: ECR's imageScanStatus and imageScanFindingsSummary,
as DescribeImages and the scanning operations give them."""

from __future__ import annotations

from rest_framework import serializers

from apps.scanning.models import SEVERITIES, ScanStatus
from apps.scanning.selectors import findings_summary, scan_status

# The shapes are built by apps.scanning.selectors (the AWS API gives them too).
__all__ = ["FindingsSummarySerializer", "ImageScanStatusSerializer", "findings_summary", "scan_status"]


class ImageScanStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ScanStatus.choices)
    description = serializers.CharField()


class FindingsSummarySerializer(serializers.Serializer):
    imageScanCompletedAt = serializers.DateTimeField()
    vulnerabilitySourceUpdatedAt = serializers.DateTimeField(
        allow_null=True, help_text="when the advisory database was last imported"
    )
    findingSeverityCounts = serializers.DictField(
        child=serializers.IntegerField(), help_text=f"findings by severity ({', '.join(SEVERITIES)}), zero left out"
    )

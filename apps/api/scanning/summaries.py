"""An image's scan in a few fields: ECR's imageScanStatus and imageScanFindingsSummary
(apps.scanning.summaries), as the management API's serializers describe them."""

from __future__ import annotations

from rest_framework import serializers

from apps.scanning.models import SEVERITIES, ScanStatus
from apps.scanning.summaries import findings_summary, scan_status  # noqa: F401  (this module's users import them here)


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

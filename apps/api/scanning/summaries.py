"""An image's scan in a few fields: ECR's imageScanStatus and imageScanFindingsSummary,
as DescribeImages and the scanning operations give them."""

from __future__ import annotations

from rest_framework import serializers

from apps.scanning.models import SEVERITIES, ScanStatus


class ImageScanStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ScanStatus.choices)
    description = serializers.CharField()


def scan_status(scan) -> dict | None:
    if scan is None:
        return None
    return {"status": scan.status, "description": scan.description}


def findings_summary(scan) -> dict | None:
    if scan is None or scan.completed_at is None:
        return None
    return {
        "imageScanCompletedAt": scan.completed_at,
        "vulnerabilitySourceUpdatedAt": scan.vulnerability_source_updated_at,
        "findingSeverityCounts": scan.severity_counts,
    }


class FindingsSummarySerializer(serializers.Serializer):
    imageScanCompletedAt = serializers.DateTimeField()
    vulnerabilitySourceUpdatedAt = serializers.DateTimeField(
        allow_null=True, help_text="when the advisory database was last imported"
    )
    findingSeverityCounts = serializers.DictField(
        child=serializers.IntegerField(), help_text=f"findings by severity ({', '.join(SEVERITIES)}), zero left out"
    )

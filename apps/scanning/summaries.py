"""An image's scan in a few fields: ECR's imageScanStatus and imageScanFindingsSummary,
as DescribeImages and the scanning operations give them, on every surface."""

from __future__ import annotations


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

"""Reads of the scanner: an image's scan, its findings a page at a time."""

from __future__ import annotations

import base64
import binascii
import json

from django.db.models import Case, IntegerField, QuerySet, Value, When

from apps.registry.content import media_types as mt
from apps.registry.content.manifests import parse_manifest
from apps.registry.exceptions import ManifestInvalid
from apps.registry.models import Manifest

from .models import SEVERITIES, Finding, ImageScan


class FindingsTokenInvalid(ValueError):
    """A page token this listing did not give."""


def scan_of(manifest: Manifest) -> ImageScan | None:
    return ImageScan.objects.filter(manifest=manifest).first()


def platform_manifests(manifest: Manifest) -> list[Manifest]:
    """The image manifests whose findings are the image's: itself, or an index's platforms."""
    if manifest.media_type not in mt.INDEXES:
        return [manifest]
    try:
        parsed = parse_manifest(bytes(manifest.content), manifest.media_type)
    except ManifestInvalid:
        return []
    digests = [d.digest for d in parsed.manifests]
    return list(Manifest.objects.filter(repository_id=manifest.repository_id, digest__in=digests))


def _severity_rank():
    return Case(
        *[When(severity=level, then=Value(rank)) for rank, level in enumerate(SEVERITIES)],
        default=Value(len(SEVERITIES)),
        output_field=IntegerField(),
    )


def findings(
    manifest: Manifest, *, minimum_severity: str | None = None, platforms: list[Manifest] | None = None
) -> QuerySet[Finding]:
    """The findings of the image (an index: of its platforms), most severe first.
    ``platforms``: platform_manifests(manifest), when the caller has them already."""
    if platforms is None:
        platforms = platform_manifests(manifest)
    queryset = Finding.objects.filter(scan__manifest__in=platforms)
    if minimum_severity:
        queryset = queryset.filter(severity__in=SEVERITIES[: SEVERITIES.index(minimum_severity) + 1])
    return (
        queryset.select_related("advisory", "package", "scan__manifest")
        .annotate(rank=_severity_rank())
        .order_by("rank", "advisory_id", "package__name", "pk")
    )


def findings_page(
    manifest: Manifest, *, limit: int, next_token: str | None, minimum_severity: str | None = None
) -> tuple[list[Finding], str | None]:
    """One page of ``findings``; the token names where the next page starts."""
    queryset = findings(manifest, minimum_severity=minimum_severity)
    offset = _offset(next_token, manifest.digest) if next_token else 0
    page = list(queryset[offset : offset + limit + 1])
    more = len(page) > limit
    token = _token(offset + limit, manifest.digest) if more else None
    return page[:limit], token


def _token(offset: int, digest: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "d": digest}).encode()).decode()


def _offset(token: str, digest: str) -> int:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = value["o"]
        if value["d"] != digest or not isinstance(offset, int) or offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise FindingsTokenInvalid("nextToken is not one this listing gave for this image") from None
    return offset


# -- an image's scan and findings in ECR's words (the management API and the AWS API) --


def scan_status(scan: ImageScan | None) -> dict | None:
    """ECR's imageScanStatus."""
    if scan is None:
        return None
    return {"status": scan.status, "description": scan.description}


def findings_summary(scan: ImageScan | None) -> dict | None:
    """ECR's imageScanFindingsSummary (DescribeImages), the head of imageScanFindings
    (DescribeImageScanFindings); None until a scan completed."""
    if scan is None or scan.completed_at is None:
        return None
    return {
        "imageScanCompletedAt": scan.completed_at,
        "vulnerabilitySourceUpdatedAt": scan.vulnerability_source_updated_at,
        "findingSeverityCounts": scan.severity_counts,
    }


def finding_description(finding: Finding) -> str:
    return finding.advisory.summary or finding.advisory.details[:1000]


def finding_uri(finding: Finding) -> str | None:
    """The advisory's link: its ADVISORY reference, else its first."""
    references = finding.advisory.references or []
    preferred = [r["url"] for r in references if r.get("type") == "ADVISORY"] or [r["url"] for r in references]
    return preferred[0] if preferred else None


def finding_attributes(finding: Finding) -> list[dict]:
    """ECR's ImageScanFinding attributes: the package and installed version, the
    version that fixes it, the file and the layer, the image, the advisory's
    aliases and CVSS (empty ones left out)."""
    package, advisory = finding.package, finding.advisory
    values = {
        "package_name": package.name,
        "package_version": package.version,
        "package_manager": package.ecosystem,
        "source_package_name": package.source_name,
        "source_package_version": package.source_version,
        "fixed_in_version": finding.fixed_version,
        "file_path": package.path,
        "layer_digest": package.layer_digest,
        "image_digest": finding.scan.manifest.digest,
        "aliases": ", ".join(advisory.aliases),
        "CVSS_SCORE": "" if advisory.score is None else f"{advisory.score:.1f}",
        "CVSS_VECTOR": advisory.vector,
    }
    return [{"key": key, "value": value} for key, value in values.items() if value]

"""Every write to the gallery's search rows: rebuilding a repository's row from the
models it summarizes, and the publisher fields of all rows of an account.

Called from apps.gallery.subscribers once a change to a repository, its catalog
data, its tags, a manifest's details, its account or its aliases has committed
(the domain events of apps.events), so a change that rolls back never reaches a
row; and by `berth refresh_gallery`."""

from __future__ import annotations

import html
import re

import nh3
from django.contrib.postgres.search import SearchVector
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Sum

from apps.accounts.models import Account, Alias
from apps.registry.content import media_types as mt
from apps.registry.models import Manifest, Tag
from apps.repositories.models import (
    RECOGNISED_ARCHITECTURES,
    RECOGNISED_OPERATING_SYSTEMS,
    Repository,
    RepositoryCatalogData,
    Visibility,
)

from .models import GalleryEntry, Kind, PullCount, ScanSummary

ABOUT_TEXT_MAX_LENGTH = 20_000
# What an image's config says (GOARCH/GOOS) -> the catalog badge the gallery filters by.
_ARCHITECTURE_BADGES = {"amd64": "x86-64", "arm64": "ARM 64", "arm": "ARM", "386": "x86"}
_OS_BADGES = {"linux": "Linux", "windows": "Windows"}
_WORD_SEPARATORS = re.compile(r"[/._-]+")
_IMAGE_CONFIGS = {mt.OCI_CONFIG, mt.DOCKER_CONFIG}


def search_vector() -> SearchVector:
    """The stored search document: names first, publisher next, then description and about.

    Names and aliases use the `simple` configuration (no stemming or stop words: a
    repository called `the` is still found); prose uses `english`."""
    return (
        SearchVector("title", "aliases", config="simple", weight="A")
        + SearchVector("publisher_name", config="simple", weight="B")
        + SearchVector("description", config="english", weight="C")
        + SearchVector("about_text", config="english", weight="D")
    )


def name_words(name: str) -> str:
    """`eks/aws-alb_ingress` -> `eks/aws-alb_ingress eks aws alb ingress`."""
    return f"{name} {_WORD_SEPARATORS.sub(' ', name)}".strip()


def bars(values) -> str:
    """Badges in a stable order between bars, for `contains` filtering: `|ARM 64|x86-64|`."""
    values = sorted(set(values))
    return f"|{'|'.join(values)}|" if values else ""


def plain_text(sanitized_html: str) -> str:
    text = html.unescape(nh3.clean(sanitized_html, tags=set()))
    return " ".join(text.split())[:ABOUT_TEXT_MAX_LENGTH]


def kind_of(*, media_type: str, config_media_type: str, artifact_type: str) -> str:
    if config_media_type == mt.HELM_CONFIG:
        return Kind.HELM_CHART
    if artifact_type:
        return Kind.ARTIFACT
    if media_type in mt.INDEXES or media_type in (mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED):
        return Kind.IMAGE
    if config_media_type in _IMAGE_CONFIGS:
        return Kind.IMAGE
    return Kind.ARTIFACT


def platform_badges(platforms_lists) -> tuple[set[str], set[str]]:
    """Operating system and architecture badges of manifests' recorded platforms."""
    operating_systems, architectures = set(), set()
    for platforms in platforms_lists:
        for platform in platforms or []:
            if platform.get("os") in _OS_BADGES:
                operating_systems.add(_OS_BADGES[platform["os"]])
            if platform.get("architecture") in _ARCHITECTURE_BADGES:
                architectures.add(_ARCHITECTURE_BADGES[platform["architecture"]])
    return operating_systems, architectures


def _publisher_fields(account: Account) -> dict:
    aliases = Alias.objects.filter(account_id=account.pk).order_by("name").values_list("name", flat=True)
    return {
        "aliases": " ".join(aliases),
        "verified": account.verified,
        "publisher_name": account.display_name if account.verified else "",
    }


def _default_tag(repository_id: int) -> Tag | None:
    """`latest` when there is one, else the tag pushed last."""
    tags = Tag.objects.filter(repository_id=repository_id).select_related("manifest").defer("manifest__content")
    return tags.filter(name="latest").first() or tags.order_by("-updated_at", "-pk").first()


def _write_search_document(entries) -> None:
    if connection.vendor == "postgresql":
        entries.update(search_document=search_vector())


def refresh_entry(*, repository_id: int) -> GalleryEntry | None:
    """Rebuild the repository's row; remove it when the repository is gone or private."""
    repository = (
        Repository.objects.select_related("account").filter(pk=repository_id, visibility=Visibility.PUBLIC).first()
    )
    if repository is None:
        GalleryEntry.objects.filter(repository_id=repository_id).delete()
        return None
    catalog = (
        RepositoryCatalogData.objects.only(
            "description", "about_html", "architectures", "operating_systems", "logo_digest", "updated_at"
        )
        .filter(repository=repository)
        .first()
    )
    tags = Tag.objects.filter(repository=repository).aggregate(count=Count("pk"), last=Max("updated_at"))
    default_tag = _default_tag(repository.pk)
    tagged_platforms = (
        Manifest.objects.filter(tags__repository=repository).values_list("platforms", flat=True).distinct()
    )
    found_os, found_arch = platform_badges(tagged_platforms)
    operating_systems = found_os | {
        v for v in (catalog.operating_systems if catalog else []) if v in RECOGNISED_OPERATING_SYSTEMS
    }
    architectures = found_arch | {
        v for v in (catalog.architectures if catalog else []) if v in RECOGNISED_ARCHITECTURES
    }
    kind = Kind.IMAGE
    if default_tag is not None:
        manifest = default_tag.manifest
        kind = kind_of(
            media_type=manifest.media_type,
            config_media_type=manifest.config_media_type,
            artifact_type=manifest.artifact_type,
        )
    moments = [repository.created_at, tags["last"], catalog.updated_at if catalog else None]
    fields = {
        "account_id": repository.account_id,
        "name": repository.name,
        "title": name_words(repository.name),
        "description": catalog.description if catalog else "",
        "about_text": plain_text(catalog.about_html) if catalog else "",
        "kind": kind,
        "operating_systems": bars(operating_systems),
        "architectures": bars(architectures),
        "has_logo": bool(catalog and catalog.logo_digest),
        "default_tag": default_tag.name if default_tag else "",
        "tag_count": tags["count"],
        "last_pushed_at": tags["last"],
        "last_updated_at": max(m for m in moments if m is not None),
        **_publisher_fields(repository.account),
    }
    entries = GalleryEntry.objects.filter(repository_id=repository.pk)
    if not entries.update(**fields):
        pulls = PullCount.objects.filter(repository=repository).aggregate(total=Sum("count"))["total"] or 0
        try:
            with transaction.atomic():
                GalleryEntry.objects.create(repository_id=repository.pk, pull_count=pulls, **fields)
        except IntegrityError:
            # Another transaction made the row meanwhile: this one's fields are as new.
            entries.update(**fields)
    _write_search_document(entries)
    return entries.first()


def refresh_account(*, account_id: str) -> int:
    """Rewrite the publisher fields (aliases, verification, display name) of every
    row of the account, in one statement; returns the number of rows."""
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        return 0
    entries = GalleryEntry.objects.filter(account_id=account_id)
    updated = entries.update(**_publisher_fields(account))
    if updated:
        _write_search_document(entries)
    return updated


def refresh_all(*, batch_size: int = 500) -> int:
    """Rebuild every public repository's row (after installing the gallery on an
    existing registry, or to repair it); returns the number of rows."""
    GalleryEntry.objects.exclude(repository__visibility=Visibility.PUBLIC).delete()
    ids = Repository.objects.filter(visibility=Visibility.PUBLIC).values_list("pk", flat=True).order_by("pk")
    count = 0
    for repository_id in ids.iterator(chunk_size=batch_size):
        refresh_entry(repository_id=repository_id)
        count += 1
    return count


def keep_scan_summary(*, manifest_id: int, status: str, severity_counts: dict) -> None:
    """The latest scan's status and counts of a manifest (nothing when it is gone)."""
    if Manifest.objects.filter(pk=manifest_id).exists():
        ScanSummary.objects.update_or_create(
            manifest_id=manifest_id, defaults={"status": status, "severity_counts": severity_counts}
        )


def keep_scan_summaries(scans: list[dict]) -> None:
    """The counts of many images at once (a re-match's chunk): images.rematched."""
    present = set(Manifest.objects.filter(pk__in=[scan["manifestId"] for scan in scans]).values_list("pk", flat=True))
    ScanSummary.objects.bulk_create(
        [
            ScanSummary(manifest_id=scan["manifestId"], status=scan["status"], severity_counts=scan["severityCounts"])
            for scan in scans
            if scan["manifestId"] in present
        ],
        update_conflicts=True,
        unique_fields=["manifest"],
        update_fields=["status", "severity_counts", "updated_at"],
    )

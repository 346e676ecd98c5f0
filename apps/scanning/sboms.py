"""An image's SBOM: its stored inventory written as CycloneDX or SPDX JSON
(apps.scanning.sbom), exported, or attached to the image as an OCI referrer whose
artifact type is the SBOM's media type, so that `oras discover` and the referrers
API list it beside signatures."""

from __future__ import annotations

import importlib.metadata
import json

from django.db import transaction

from apps.audit.events import Actor
from apps.kernel.requests import RequestContext
from apps.registry import services as registry_services
from apps.registry.content import media_types as mt
from apps.registry.models import Manifest
from apps.repositories.models import Repository

from . import sbom
from .exceptions import ImageNotScannable, InventoryMissing
from .inventory.packages import Inventory as FoundInventory
from .inventory.packages import OperatingSystem, Package
from .models import Inventory
from .selectors import platform_manifests

FORMATS = {
    "cyclonedx": (sbom.CYCLONEDX_MEDIA_TYPE, sbom.cyclonedx_json),
    "spdx": (sbom.SPDX_MEDIA_TYPE, sbom.spdx_json),
}
EMPTY_CONFIG = b"{}"


def tool_version() -> str:
    try:
        return importlib.metadata.version("berth")
    except importlib.metadata.PackageNotFoundError:  # a source tree not installed
        return "0"


def found_inventory(inventory: Inventory) -> FoundInventory:
    """The stored inventory as the values the writers take."""
    os_info = OperatingSystem(**inventory.os) if inventory.os else None
    packages = [
        Package(
            ecosystem=row.ecosystem,
            name=row.name,
            version=row.version,
            purl=row.purl,
            path=row.path,
            layer_digest=row.layer_digest,
            source_name=row.source_name,
            source_version=row.source_version,
            licenses=tuple(row.licenses),
        )
        for row in inventory.packages.order_by("pk")
    ]
    return FoundInventory(
        os=os_info,
        packages=packages,
        unsupported=list(inventory.unsupported),
        files_seen=inventory.files_seen,
        bytes_read=inventory.bytes_read,
    )


def document(manifest: Manifest, *, kind: str, repository_uri: str) -> bytes:
    """The SBOM of one image manifest (not an index: each platform has its own)."""
    if manifest.media_type in mt.INDEXES:
        children = ", ".join(child.digest for child in platform_manifests(manifest))
        raise ImageNotScannable(manifest.digest, f"an index has no SBOM of its own; its platforms' images: {children}")
    inventory = Inventory.objects.filter(digest=manifest.digest).first()
    if inventory is None:
        raise InventoryMissing(manifest.digest)
    platform = (
        "/".join(part for part in (manifest.platforms[0].get(k, "") for k in ("os", "architecture", "variant")) if part)
        if manifest.platforms
        else ""
    )
    image = sbom.ImageRef(
        repository_uri=repository_uri,
        digest=manifest.digest,
        tags=tuple(sorted(manifest.tags.values_list("name", flat=True))),
        media_type=manifest.media_type,
        platform=platform,
    )
    _, write = FORMATS[kind]
    return write(image, found_inventory(inventory), tool_version=tool_version(), created=inventory.created_at)


def attach(
    *,
    repository: Repository,
    manifest: Manifest,
    kind: str,
    repository_uri: str,
    actor: Actor,
    context: RequestContext | None = None,
) -> list[Manifest]:
    """Push the SBOM of the image (an index: of each platform's image) as an OCI
    artifact whose subject is that image; returns the referrers stored. Pushing the
    same SBOM again stores nothing new (the same bytes, the same digest)."""
    media_type, _ = FORMATS[kind]
    targets = platform_manifests(manifest)
    stored = []
    with transaction.atomic():
        for target in targets:
            body = document(target, kind=kind, repository_uri=repository_uri)
            config = registry_services.store_blob(repository=repository, data=EMPTY_CONFIG)
            layer = registry_services.store_blob(repository=repository, data=body)
            referrer = {
                "schemaVersion": 2,
                "mediaType": mt.OCI_MANIFEST,
                "artifactType": media_type,
                "config": {"mediaType": mt.OCI_EMPTY, "digest": config.digest, "size": len(EMPTY_CONFIG)},
                "layers": [{"mediaType": media_type, "digest": layer.digest, "size": len(body)}],
                "subject": {"mediaType": target.media_type, "digest": target.digest, "size": target.size},
                "annotations": {"org.opencontainers.image.created": _created(body, kind)},
            }
            stored_manifest, _ = registry_services.put_image(
                repository=repository,
                body=json.dumps(referrer, separators=(",", ":")).encode(),
                media_type=mt.OCI_MANIFEST,
                tag=None,
                digest=None,
                actor=actor,
                context=context,
            )
            stored.append(stored_manifest)
    return stored


def _created(body: bytes, kind: str) -> str:
    document_ = json.loads(body)
    if kind == "cyclonedx":
        return document_.get("metadata", {}).get("timestamp", "")
    return document_.get("creationInfo", {}).get("created", "")

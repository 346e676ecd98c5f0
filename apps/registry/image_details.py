"""What the registry learns from a pushed manifest: sizes, layers, platforms."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils.dateparse import parse_datetime

from apps.events import outbox
from apps.events.names import IMAGE_DETAILS_RECORDED
from apps.kernel import json_limits

from .content import media_types as mt
from .content import schema1
from .content.manifests import parse_manifest
from .models import Blob, Manifest
from .storage import encryption as storage_encryption
from .storage import get_blob_store

_CONFIG_READ_LIMIT = 1024 * 1024


def read_config(digest: str, size: int, repository) -> dict:
    """An image's config document as stored (labels, entrypoint, history...); {} when
    it is too large to read here, not JSON, or not in the store yet."""
    if size > _CONFIG_READ_LIMIT:
        return {}
    try:
        stream = get_blob_store().open_range(digest, encryption=storage_encryption.of(repository))
    except FileNotFoundError:
        return {}  # a cached manifest's config the pull-through cache has yet to fetch
    with stream:
        try:
            document = json_limits.loads(stream.read(_CONFIG_READ_LIMIT), max_depth=settings.BERTH_MAX_JSON_DEPTH)
        except ValueError:
            return {}
    return document if isinstance(document, dict) else {}


def _platform(source: dict, keys: tuple[str, ...] = ("os", "architecture", "variant")) -> dict:
    """The platform ``source`` names, as text PostgreSQL can store: a value that is
    not text, is empty or holds NUL (a config is a blob, stored as pushed) is left out."""
    return {key: value for key in keys if isinstance(value := source.get(key), str) and value and "\x00" not in value}


def _created(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def record(manifest: Manifest) -> None:
    if manifest.media_type in (mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED):
        _record_schema1(manifest)
        return
    parsed = parse_manifest(bytes(manifest.content), manifest.media_type)
    if parsed.is_index:
        children = Manifest.objects.filter(
            repository_id=manifest.repository_id, digest__in=[d.digest for d in parsed.manifests]
        )
        manifest.total_size = sum(child.total_size or child.size for child in children)
        manifest.layer_count = None
        manifest.platforms = [_platform(d.platform) for d in parsed.manifests if d.platform]
    else:
        manifest.total_size = sum(d.size for d in parsed.blob_descriptors)
        manifest.layer_count = len(parsed.layers)
        if parsed.config and parsed.config.media_type in (mt.OCI_CONFIG, mt.DOCKER_CONFIG):
            config = read_config(parsed.config.digest, parsed.config.size, manifest.repository)
            platform = _platform(config)
            manifest.platforms = [platform] if platform else []
            manifest.image_created_at = _created(config.get("created"))
    _save(manifest)


def _record_schema1(manifest: Manifest) -> None:
    parsed = schema1.parse_schema1(bytes(manifest.content), manifest.media_type)
    details = parsed.details()
    layers = Blob.objects.filter(digest__in=set(parsed.fs_layers))
    manifest.total_size = sum(blob.size for blob in layers)
    manifest.layer_count = len(parsed.fs_layers)
    platform = _platform(details, ("os", "architecture"))
    manifest.platforms = [platform] if platform else []
    manifest.image_created_at = details.get("created")
    _save(manifest)


def _save(manifest: Manifest) -> None:
    with transaction.atomic():
        fields = ("total_size", "layer_count", "platforms", "image_created_at")
        if not Manifest.objects.filter(pk=manifest.pk).update(**{name: getattr(manifest, name) for name in fields}):
            return  # deleted while its details were read
        outbox.publish(
            IMAGE_DETAILS_RECORDED,
            {"repositoryId": manifest.repository_id, "manifestId": manifest.pk, "digest": manifest.digest},
        )

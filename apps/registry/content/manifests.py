"""Parse and validate pushed manifests: pure functions over bytes.

The registry stores manifests byte for byte; what it learns here (references,
subject, artifact type) decides what must exist before the push is accepted and
what the referrers API answers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from apps.kernel import json_limits
from apps.kernel.digests import DigestInvalid, parse_digest

from ..exceptions import ManifestInvalid, ManifestTypeUnsupported
from . import media_types as mt

MEDIA_TYPE_GRAMMAR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    artifact_type: str = ""
    annotations: dict = field(default_factory=dict)
    platform: dict | None = None
    urls: tuple[str, ...] = ()

    @property
    def is_foreign_layer(self) -> bool:
        """A layer clients fetch from its URLs: the registry need not hold its blob."""
        return self.media_type in mt.NON_DISTRIBUTABLE_LAYERS and bool(self.urls)


@dataclass(frozen=True)
class ParsedManifest:
    media_type: str
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None
    artifact_type: str
    annotations: dict

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES

    @property
    def blob_descriptors(self) -> tuple[Descriptor, ...]:
        return ((self.config,) if self.config else ()) + self.layers


def _invalid(message: str) -> ManifestInvalid:
    return ManifestInvalid(message)


def _descriptor(value: object, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be a descriptor object")
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not MEDIA_TYPE_GRAMMAR.fullmatch(media_type):
        raise _invalid(f"{where}.mediaType is missing or not a media type")
    digest = value.get("digest")
    if not isinstance(digest, str):
        raise _invalid(f"{where}.digest is missing")
    try:
        parse_digest(digest)
    except DigestInvalid as exc:
        raise _invalid(f"{where}.digest: {exc.message}") from exc
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where}.size must be a non-negative integer")
    annotations = value.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
    ):
        raise _invalid(f"{where}.annotations must map strings to strings")
    platform = value.get("platform")
    if platform is not None and (
        not isinstance(platform, dict)
        or not isinstance(platform.get("architecture"), str)
        or not isinstance(platform.get("os"), str)
    ):
        raise _invalid(f"{where}.platform needs architecture and os")
    artifact_type = value.get("artifactType", "")
    if not isinstance(artifact_type, str):
        raise _invalid(f"{where}.artifactType must be a string")
    urls = value.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
        raise _invalid(f"{where}.urls must be an array of strings")
    return Descriptor(media_type, digest, size, artifact_type, annotations, platform, tuple(urls))


def check_foreign_layer_urls(parsed: ParsedManifest, *, allow: re.Pattern | None, deny: re.Pattern | None) -> None:
    """Refuse a foreign layer naming a URL the registry will not point clients at:
    not http(s), with a fragment, not matching ``allow`` (None: nothing is allowed)
    or matching ``deny``."""
    for number, layer in enumerate(parsed.layers):
        if layer.media_type not in mt.NON_DISTRIBUTABLE_LAYERS:
            continue
        for url in layer.urls:
            try:
                parts = urlsplit(url)
            except ValueError:
                parts = None
            if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
                reason = "it is not an http or https URL without a fragment"
            elif allow is None or not allow.search(url):
                reason = "it does not match the URLs this registry allows for foreign layers"
            elif deny is not None and deny.search(url):
                reason = "it matches the URLs this registry denies for foreign layers"
            else:
                continue
            raise _invalid(f"layers[{number}].urls: {url[:300]!r} is refused: {reason}")


def parse_manifest(body: bytes, content_type: str | None) -> ParsedManifest:
    """Validate a pushed image manifest or index; raise ManifestInvalid with a
    message that says what is wrong."""
    try:
        document = json_limits.loads(body, max_depth=settings.BERTH_MAX_JSON_DEPTH)
    except json_limits.JSONTooDeep as exc:
        raise _invalid(f"manifest {exc}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise _invalid(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise _invalid("manifest must be a JSON object")
    if document.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")

    declared = document.get("mediaType")
    content_type = (content_type or "").split(";")[0].strip()
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType must be a string")
    # An OCI manifest may omit mediaType (podman's do); the Content-Type names it then.
    media_type = declared or content_type
    if not media_type:
        media_type = mt.OCI_INDEX if "manifests" in document else mt.OCI_MANIFEST
    if declared and content_type and content_type != declared and content_type in mt.MANIFEST_TYPES:
        raise _invalid(f"Content-Type {content_type} does not match the manifest's mediaType {declared}")
    if media_type not in mt.MANIFEST_TYPES:
        raise ManifestTypeUnsupported(media_type, sorted(mt.MANIFEST_TYPES))

    annotations = document.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
    ):
        raise _invalid("annotations must map strings to strings")
    # Both are stored as text, which PostgreSQL cannot hold with a NUL in it (a
    # media type cannot hold one).
    artifact_type = document.get("artifactType") or ""
    if not isinstance(artifact_type, str) or (artifact_type and not MEDIA_TYPE_GRAMMAR.fullmatch(artifact_type)):
        raise _invalid("artifactType must be a media type")
    if any("\x00" in k or "\x00" in v for k, v in annotations.items()):
        raise _invalid("annotations cannot contain NUL characters")
    subject = _descriptor(document["subject"], "subject") if document.get("subject") is not None else None

    if media_type in mt.INDEXES:
        entries = document.get("manifests")
        if not isinstance(entries, list):
            raise _invalid("an index needs a manifests array")
        manifests = tuple(_descriptor(entry, f"manifests[{i}]") for i, entry in enumerate(entries))
        return ParsedManifest(media_type, None, (), manifests, subject, artifact_type, annotations)

    if "manifests" in document:
        raise _invalid("an image manifest has no manifests array")
    config = _descriptor(document.get("config"), "config")
    raw_layers = document.get("layers")
    if not isinstance(raw_layers, list):
        raise _invalid("layers must be an array")
    layers = tuple(_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(raw_layers))
    if media_type == mt.DOCKER_MANIFEST and config.media_type != mt.DOCKER_CONFIG:
        raise _invalid(f"a Docker image manifest needs a {mt.DOCKER_CONFIG} config")
    if not artifact_type and config.media_type not in (mt.OCI_CONFIG, mt.DOCKER_CONFIG, mt.OCI_EMPTY):
        # OCI 1.1: an artifact without artifactType is typed by its config.
        artifact_type = config.media_type
    if config.media_type == mt.OCI_EMPTY and not document.get("artifactType") and media_type == mt.OCI_MANIFEST:
        raise _invalid("a manifest with the empty config must set artifactType")
    return ParsedManifest(media_type, config, layers, (), subject, artifact_type, annotations)

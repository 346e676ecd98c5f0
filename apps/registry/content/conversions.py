"""Docker Image Manifest V2 Schema 2 <-> OCI image-spec conversion: pure functions over bytes.

A client whose Accept header allows only the other family still gets the image:
the registry rewrites the manifest's media types, never the blobs. The OCI
image-spec's compatibility matrix (media-types.md) names the pairs: manifest
list <-> image index, Docker manifest <-> OCI manifest, Docker container config
<-> OCI image config, rootfs.diff.tar.gzip <-> layer.v1.tar+gzip. The
uncompressed and foreign/non-distributable layer pairs follow containers/image,
which converts them the same way.

Decisions a reader of the output relies on:

* Serialization is ``json.dumps(..., indent=3, ensure_ascii=False)`` as UTF-8,
  no trailing newline: distribution marshals schema2 with a three-space indent,
  and Go's encoder writes non-ASCII as raw UTF-8, so a converted manifest looks
  like one a Go registry would have produced. Keys come in the target format's
  struct order and annotation maps are sorted (Go sorts map keys), so the same
  meaning always yields the same bytes - and the same digest - whatever order
  or whitespace the stored manifest had.
* Only fields the target format defines are written; unknown fields and OCI's
  ``data`` (an inline copy of a blob that stays fetchable by digest) are dropped.
* Top-level ``annotations`` are dropped on OCI -> Docker (see ``_annotations``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from . import media_types as mt

DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_NONDISTRIBUTABLE_LAYER = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_NONDISTRIBUTABLE_LAYER_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"

LAYER_DOCKER_TO_OCI = {
    DOCKER_LAYER: OCI_LAYER,
    DOCKER_LAYER_GZIP: OCI_LAYER_GZIP,
    DOCKER_FOREIGN_LAYER: OCI_NONDISTRIBUTABLE_LAYER,
    DOCKER_FOREIGN_LAYER_GZIP: OCI_NONDISTRIBUTABLE_LAYER_GZIP,
}
LAYER_OCI_TO_DOCKER = {oci: docker for docker, oci in LAYER_DOCKER_TO_OCI.items()}

_EQUIVALENT_MANIFEST_TYPE = {
    mt.DOCKER_MANIFEST: mt.OCI_MANIFEST,
    mt.DOCKER_MANIFEST_LIST: mt.OCI_INDEX,
    mt.OCI_MANIFEST: mt.DOCKER_MANIFEST,
    mt.OCI_INDEX: mt.DOCKER_MANIFEST_LIST,
}

_PLATFORM_KEYS = ("architecture", "os", "os.version", "os.features", "variant", "features")


class NotConvertible(Exception):
    """The stored manifest has no faithful equivalent in the format the client
    accepts; str(exc) is a sentence that can be shown to the client."""


@dataclass(frozen=True)
class ChildRef:
    """What an index entry must point at once its child manifest was converted:
    the digest and size of the converted bytes and their media type."""

    digest: str
    size: int
    media_type: str


@dataclass(frozen=True)
class _Family:
    label: str
    manifest: str
    index: str
    config: str
    layers: frozenset[str]
    # The target's own descriptor field order: distribution's Descriptor puts
    # size before digest, image-spec's puts digest first.
    descriptor_order: tuple[str, ...]
    carries_annotations: bool

    @property
    def manifest_types(self) -> tuple[str, str]:
        return (self.manifest, self.index)


DOCKER = _Family(
    label="Docker Image Manifest V2 Schema 2",
    manifest=mt.DOCKER_MANIFEST,
    index=mt.DOCKER_MANIFEST_LIST,
    config=mt.DOCKER_CONFIG,
    layers=frozenset(LAYER_DOCKER_TO_OCI),
    descriptor_order=("mediaType", "size", "digest"),
    carries_annotations=False,
)
OCI = _Family(
    label="OCI image",
    manifest=mt.OCI_MANIFEST,
    index=mt.OCI_INDEX,
    config=mt.OCI_CONFIG,
    layers=frozenset(LAYER_OCI_TO_DOCKER),
    descriptor_order=("mediaType", "digest", "size"),
    carries_annotations=True,
)


def docker_to_oci(body: bytes, *, children: Mapping[str, ChildRef] | None = None) -> bytes:
    """Rewrite a Docker image manifest or manifest list as its OCI equivalent.

    ``children`` maps an index entry's digest to the already converted child it
    must point at instead; an entry without one must already be OCI."""
    return _convert(body, DOCKER, OCI, children or {})


def oci_to_docker(body: bytes, *, children: Mapping[str, ChildRef] | None = None) -> bytes:
    """Rewrite an OCI image manifest or image index as its Docker equivalent.

    ``children`` maps an index entry's digest to the already converted child it
    must point at instead; an entry without one must already be Docker."""
    return _convert(body, OCI, DOCKER, children or {})


def accepted_conversion(stored_media_type: str, accepted: set[str]) -> str | None:
    """The media type to convert a stored manifest to for a client that accepts
    ``accepted``, or None when it takes the stored type as is (or cannot take
    the other family's equivalent either)."""
    stored = _bare(stored_media_type)
    target = _EQUIVALENT_MANIFEST_TYPE.get(stored)
    if target is None:
        return None
    acceptable = {_bare(value) for value in accepted}
    # A wildcard accepts what is stored, and the stored bytes are the only ones
    # whose digest matches what the client may have asked for.
    if stored in acceptable or "*/*" in acceptable or "application/*" in acceptable:
        return None
    return target if target in acceptable else None


def _bare(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def _convert(body: bytes, source: _Family, target: _Family, children: Mapping[str, ChildRef]) -> bytes:
    try:
        document = json.loads(bytes(body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotConvertible("The stored manifest is not valid JSON, so it cannot be converted.") from exc
    if not isinstance(document, dict):
        raise NotConvertible("The stored manifest is not a JSON object, so it cannot be converted.")
    if document.get("schemaVersion") != 2:
        raise NotConvertible("Only schemaVersion 2 manifests can be converted.")

    media_type = document.get("mediaType")
    if media_type is None and source is OCI:
        # OCI lets mediaType be omitted; what the document holds says which it
        # is. Docker v2s2 requires it (distribution refuses a manifest without).
        media_type = source.index if "manifests" in document else source.manifest
    if media_type is None:
        raise NotConvertible(f"The stored manifest does not declare its mediaType, which {source.label} requires.")
    if media_type not in source.manifest_types:
        raise NotConvertible(
            f"A {media_type!r} manifest cannot be converted to {target.label}; only "
            f"{source.manifest} and {source.index} can."
        )

    artifact_type = document.get("artifactType")
    if artifact_type:
        raise NotConvertible(
            f"This manifest is an OCI artifact (artifactType {artifact_type!r}), which has no "
            f"{target.label} equivalent."
        )
    if document.get("subject") is not None:
        # The subject is what links a signature or SBOM to its image (the
        # referrers API); a rewritten copy without it would claim nothing.
        raise NotConvertible(
            f"This manifest refers to another manifest through 'subject', which {target.label} cannot express."
        )

    if media_type == source.index:
        output = _convert_index(document, source, target, children)
    else:
        output = _convert_manifest(document, target)
    return _serialize(output)


def _convert_manifest(document: dict, target: _Family) -> dict:
    config = _descriptor(document.get("config"), "config")
    config_type = config["mediaType"]
    if config_type == mt.OCI_EMPTY:
        raise NotConvertible(
            f"This manifest is an OCI artifact (its config is the empty descriptor {mt.OCI_EMPTY}), "
            f"which has no {target.label} equivalent."
        )
    if config_type not in (mt.OCI_CONFIG, mt.DOCKER_CONFIG):
        raise NotConvertible(
            f"This manifest is an OCI artifact typed by its config media type {config_type!r}, "
            f"which has no {target.label} equivalent."
        )
    config["mediaType"] = target.config

    raw_layers = document.get("layers")
    if not isinstance(raw_layers, list):
        raise NotConvertible("The stored manifest has no layers array, so it cannot be converted.")
    layers = []
    for i, raw in enumerate(raw_layers):
        layer = _descriptor(raw, f"layers[{i}]")
        layer["mediaType"] = _layer_type(layer["mediaType"], i, target)
        layers.append(layer)

    output = {
        "schemaVersion": 2,
        "mediaType": target.manifest,
        "config": _ordered(config, target),
        "layers": [_ordered(layer, target) for layer in layers],
    }
    return _with_annotations(output, document, target)


def _layer_type(media_type: str, index: int, target: _Family) -> str:
    if media_type in target.layers:
        return media_type
    mapping = LAYER_DOCKER_TO_OCI if target is OCI else LAYER_OCI_TO_DOCKER
    if media_type in mapping:
        return mapping[media_type]
    if media_type.endswith("+zstd") and target is DOCKER:
        raise NotConvertible(
            f"Layer {index} is zstd-compressed ({media_type}); Docker Image Manifest V2 Schema 2 "
            "has no zstd layer type."
        )
    raise NotConvertible(f"Layer {index} has media type {media_type!r}, which has no {target.label} equivalent.")


def _convert_index(document: dict, source: _Family, target: _Family, children: Mapping[str, ChildRef]) -> dict:
    raw_entries = document.get("manifests")
    if not isinstance(raw_entries, list):
        raise NotConvertible("The stored index has no manifests array, so it cannot be converted.")
    entries = []
    for i, raw in enumerate(raw_entries):
        entry = _descriptor(raw, f"manifests[{i}]", with_platform=True)
        if isinstance(raw, dict) and raw.get("artifactType"):
            raise NotConvertible(
                f"Index entry {i} ({entry['digest']}) is an OCI artifact (artifactType "
                f"{raw['artifactType']!r}), which {target.label} cannot express."
            )
        child = children.get(entry["digest"])
        if child is not None:
            if child.media_type not in target.manifest_types:
                # A caller bug, not a property of the stored manifest.
                raise ValueError(
                    f"ChildRef for {entry['digest']} has media type {child.media_type!r}, not one of {target.label}"
                )
            entry.update(mediaType=child.media_type, digest=child.digest, size=child.size)
        elif entry["mediaType"] not in target.manifest_types:
            raise NotConvertible(
                f"Index entry {i} ({entry['digest']}{_platform_label(entry)}) points at a "
                f"{entry['mediaType']!r} manifest that has no {target.label} equivalent."
            )
        entries.append(_ordered(entry, target))

    output = {"schemaVersion": 2, "mediaType": target.index, "manifests": entries}
    return _with_annotations(output, document, target)


def _with_annotations(output: dict, document: dict, target: _Family) -> dict:
    """Top-level annotations: kept on OCI output, dropped on Docker output.

    Docker v2s2 has no top-level annotations field, so the choice was to drop or
    to refuse. We drop: by the image-spec annotations are metadata that must not
    change how an image is pulled or run, and a client that reads only Docker
    types cannot read them anyway - so nothing it relies on is lost, while
    refusing would make every image a modern builder labels with
    org.opencontainers.image.* unpullable for it. Descriptor annotations are
    kept in both directions: distribution's Descriptor carries them.

    A (non-standard) annotations field on a Docker manifest is carried into the
    OCI output, since the target can hold it and the pusher put it there."""
    annotations = document.get("annotations")
    if target.carries_annotations and annotations:
        output["annotations"] = _string_map(annotations, "annotations")
    return output


def _descriptor(value: object, where: str, *, with_platform: bool = False) -> dict:
    if not isinstance(value, dict):
        raise NotConvertible(f"The stored manifest's {where} is not a descriptor object.")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise NotConvertible(f"The stored manifest's {where} has no mediaType.")
    if not isinstance(digest, str) or not digest:
        raise NotConvertible(f"The stored manifest's {where} has no digest.")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise NotConvertible(f"The stored manifest's {where} has no valid size.")
    descriptor: dict = {"mediaType": media_type, "digest": digest, "size": size}
    urls = value.get("urls")
    if urls:
        if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
            raise NotConvertible(f"The stored manifest's {where}.urls is not a list of strings.")
        descriptor["urls"] = list(urls)
    annotations = value.get("annotations")
    if annotations:
        descriptor["annotations"] = _string_map(annotations, f"{where}.annotations")
    platform = value.get("platform")
    if with_platform and platform is not None:
        descriptor["platform"] = _platform(platform, f"{where}.platform")
    return descriptor


def _ordered(descriptor: dict, target: _Family) -> dict:
    ordered = {key: descriptor[key] for key in target.descriptor_order}
    for key in ("urls", "annotations", "platform"):
        if key in descriptor:
            ordered[key] = descriptor[key]
    return ordered


def _platform(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise NotConvertible(f"The stored manifest's {where} is not an object.")
    # Both formats define exactly these fields, in this order.
    return {key: value[key] for key in _PLATFORM_KEYS if key in value}


def _platform_label(entry: dict) -> str:
    platform = entry.get("platform") or {}
    if "os" in platform and "architecture" in platform:
        variant = f"/{platform['variant']}" if platform.get("variant") else ""
        return f", {platform['os']}/{platform['architecture']}{variant}"
    return ""


def _string_map(value: object, where: str) -> dict:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise NotConvertible(f"The stored manifest's {where} does not map strings to strings.")
    return dict(sorted(value.items()))


def _serialize(document: dict) -> bytes:
    try:
        return json.dumps(document, indent=3, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        # A lone surrogate escaped in the stored JSON has no UTF-8 form.
        raise NotConvertible("The stored manifest holds a string that is not valid Unicode.") from exc

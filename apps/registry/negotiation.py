"""Which bytes a manifest pull gets.

A client that accepts the stored format gets the stored bytes. Pulls by tag may
be served a conversion when the client cannot read the stored format (Docker ⇄
OCI, an index's default platform for clients without index support, schema 1
for Docker ≤ 1.9), as Amazon ECR does. Every conversion is kept, so its digest
stays addressable; a pull by digest gets exactly the bytes with that digest."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.kernel.digests import digest_bytes, is_digest
from apps.repositories.models import Repository

from . import selectors, services
from .content import conversions, schema1
from .content import media_types as mt
from .content.manifests import parse_manifest
from .exceptions import ManifestInvalid, ManifestNotConvertible, ManifestUnknown
from .models import Manifest, ManifestConversion
from .storage import encryption as storage_encryption
from .storage import get_blob_store

SCHEMA1_TYPES = frozenset({mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED})
# Docker engines before 1.10 ask for these (or send no Accept at all).
_SCHEMA1_ACCEPT = SCHEMA1_TYPES | {"application/json"}
_MODERN = mt.MANIFEST_TYPES
REFERRERS_TAG = re.compile(r"^(sha256)-([a-f0-9]{64})$")
_CONFIG_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True)
class Served:
    media_type: str
    digest: str
    size: int
    content: bytes | None  # None for a HEAD of stored bytes (not loaded)
    # The stored manifest the bytes are (or were converted from); None for the referrers tag.
    manifest_id: int | None = None


def parse_accept(header: str) -> set[str]:
    # Repeated Accept headers reach WSGI joined with commas.
    return {item.split(";")[0].strip() for item in header.split(",") if item.split(";")[0].strip()}


def _wants_schema1(accepted: set[str]) -> bool:
    return not accepted or (bool(accepted & _SCHEMA1_ACCEPT) and not accepted & _MODERN)


def _accepts(media_type: str, accepted: set[str]) -> bool:
    if "*/*" in accepted or media_type in accepted:
        return True
    # A schema 1 manifest is what every client without an Accept header expects.
    return media_type in SCHEMA1_TYPES and _wants_schema1(accepted)


def _served(manifest: Manifest | ManifestConversion) -> Served:
    content = bytes(manifest.content) if "content" in manifest.__dict__ else None
    if isinstance(manifest, Manifest):
        return Served(manifest.media_type, manifest.digest, manifest.size, content, manifest.pk)
    return Served(manifest.media_type, manifest.digest, len(content), content, manifest.source_id)


def served_manifest(*, repository: Repository, name: str, reference: str, accepted: set[str], head: bool) -> Served:
    if is_digest(reference):
        manifest = selectors.manifest_by_reference(repository, reference, with_content=not head)
        if manifest is not None:
            return _served(manifest)
        conversion = ManifestConversion.objects.filter(source__repository=repository, digest=reference).first()
        if conversion is not None:
            return _served(conversion)
        raise ManifestUnknown(digest=reference)

    manifest = selectors.manifest_by_reference(repository, reference, with_content=not head)
    if manifest is None:
        referrers = REFERRERS_TAG.match(reference)
        if referrers:
            # The referrers tag scheme older clients read: answer it from the referrers API.
            body = referrers_index(repository, f"{referrers.group(1)}:{referrers.group(2)}", artifact_type=None)
            return Served(mt.OCI_INDEX, digest_bytes(body), len(body), body)
        raise ManifestUnknown(tag=reference)
    if _accepts(manifest.media_type, accepted):
        return _served(manifest)
    manifest = Manifest.objects.get(pk=manifest.pk)
    return _served(_convert(repository, manifest, name=name, tag=reference, accepted=accepted))


def _convert(repository: Repository, manifest: Manifest, *, name: str, tag: str, accepted: set[str]):
    stored = manifest.media_type
    if stored in SCHEMA1_TYPES:
        raise ManifestNotConvertible(
            f"the manifest is Docker schema 1, which cannot be converted to {', '.join(sorted(accepted))}"
        )
    target = conversions.accepted_conversion(stored, accepted)
    if target is not None:
        return _stored_conversion(manifest, target, "", lambda: _convert_family(repository, manifest, target))
    if stored in mt.INDEXES:
        # A client without index support gets the default platform's manifest.
        child = _default_platform_child(repository, manifest)
        if _accepts(child.media_type, accepted):
            return child
        return _convert(repository, child, name=name, tag=tag, accepted=accepted)
    if _wants_schema1(accepted):
        return _stored_conversion(
            manifest, mt.DOCKER_SCHEMA1_SIGNED, f"{name}:{tag}", lambda: _to_schema1(repository, manifest, name, tag)
        )
    raise ManifestNotConvertible(
        f"the manifest is {stored}, which the Accept header does not allow and which cannot be converted to it",
        media_type=stored,
        accepted=sorted(accepted),
    )


def _stored_conversion(manifest: Manifest, media_type: str, variant: str, build) -> ManifestConversion:
    existing = ManifestConversion.objects.filter(source=manifest, media_type=media_type, variant=variant).first()
    if existing is not None:
        return existing
    content = build()
    media = mt.DOCKER_SCHEMA1_SIGNED if media_type in SCHEMA1_TYPES else media_type
    digest = schema1.parse_schema1(content, media).digest if media_type in SCHEMA1_TYPES else digest_bytes(content)
    try:
        with transaction.atomic():
            return ManifestConversion.objects.create(
                source=manifest, media_type=media_type, variant=variant, digest=digest, content=content
            )
    except IntegrityError:
        # Another request converted it first; serve what it stored, so the digest never changes.
        return ManifestConversion.objects.get(source=manifest, media_type=media_type, variant=variant)


def _convert_family(repository: Repository, manifest: Manifest, target: str) -> bytes:
    body = bytes(manifest.content)
    convert = conversions.docker_to_oci if target in (mt.OCI_MANIFEST, mt.OCI_INDEX) else conversions.oci_to_docker
    children = None
    if manifest.media_type in mt.INDEXES:
        child_target = mt.OCI_MANIFEST if target == mt.OCI_INDEX else mt.DOCKER_MANIFEST
        children = {}
        for descriptor in parse_manifest(body, manifest.media_type).manifests:
            child = Manifest.objects.filter(repository=repository, digest=descriptor.digest).first()
            if child is None or child.media_type == child_target:
                continue
            if child.media_type in mt.INDEXES or child.media_type in SCHEMA1_TYPES:
                raise ManifestNotConvertible(f"index entry {child.digest} cannot be converted")
            converted = _stored_conversion(
                child, child_target, "", lambda c=child: _convert_family(repository, c, child_target)
            )
            children[descriptor.digest] = conversions.ChildRef(converted.digest, converted.size, child_target)
    try:
        return convert(body, children=children)
    except conversions.NotConvertible as exc:
        raise ManifestNotConvertible(str(exc), media_type=manifest.media_type) from exc


def _default_platform_child(repository: Repository, index: Manifest) -> Manifest:
    wanted = settings.BERTH_DEFAULT_PLATFORM.split("/")
    entries = parse_manifest(bytes(index.content), index.media_type).manifests
    for descriptor in entries:
        platform = descriptor.platform or {}
        found = [platform.get("os"), platform.get("architecture")] + (
            [platform.get("variant")] if len(wanted) > 2 else []
        )
        if found == wanted:
            child = Manifest.objects.filter(repository=repository, digest=descriptor.digest).first()
            if child is not None:
                return child
    available = sorted({f"{(d.platform or {}).get('os')}/{(d.platform or {}).get('architecture')}" for d in entries})
    raise ManifestNotConvertible(
        f"the index has no {settings.BERTH_DEFAULT_PLATFORM} entry for a client that cannot read indexes",
        platforms=available,
    )


def _to_schema1(repository: Repository, manifest: Manifest, name: str, tag: str) -> bytes:
    body = bytes(manifest.content)
    try:
        parsed = parse_manifest(body, manifest.media_type)
    except ManifestInvalid as exc:
        raise ManifestInvalid(f"cannot convert to schema 1: {exc.message}") from exc
    if parsed.config is None or parsed.config.media_type not in (mt.DOCKER_CONFIG, mt.OCI_CONFIG):
        raise ManifestInvalid(
            f"a {parsed.artifact_type or manifest.media_type} manifest cannot be converted to Docker schema 1; "
            "pull it with a client that accepts OCI or Docker schema 2 manifests"
        )
    if parsed.config.size > _CONFIG_LIMIT:
        raise ManifestInvalid("the image config is too large to convert to schema 1")
    try:
        stream = get_blob_store().open_range(parsed.config.digest, encryption=storage_encryption.of(repository))
    except FileNotFoundError:
        # A cached manifest whose config the pull-through cache has yet to fetch.
        raise ManifestNotConvertible(
            "the image config is not in the registry yet, so the manifest cannot be converted to Docker schema 1; "
            "pull it with a client that accepts OCI or Docker schema 2 manifests"
        ) from None
    with stream:
        config = stream.read(_CONFIG_LIMIT)
    unsigned, uses_empty_layer = schema1.schema2_to_schema1(manifest=body, config=config, name=name, tag=tag)
    if uses_empty_layer:
        # Schema 1 lists empty layers as a real (gzipped, empty tar) blob clients will fetch.
        services.store_blob(repository=repository, data=schema1.EMPTY_LAYER_BYTES)
    from .keys import schema1_signing_key

    return schema1.sign_schema1(unsigned, schema1_signing_key())


def referrers_index(repository: Repository | None, subject_digest: str, *, artifact_type: str | None) -> bytes:
    """The referrers of ``subject_digest`` as an OCI index; a repository not created
    yet (None) has none."""
    descriptors = []
    referrers = (
        [] if repository is None else selectors.referrers(repository, subject_digest, artifact_type=artifact_type)
    )
    for manifest in referrers:
        descriptor = {"mediaType": manifest.media_type, "digest": manifest.digest, "size": manifest.size}
        artifact = manifest.artifact_type or manifest.config_media_type
        if artifact:
            descriptor["artifactType"] = artifact
        if manifest.annotations:
            descriptor["annotations"] = manifest.annotations
        descriptors.append(descriptor)
    return json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": descriptors}).encode()


# -- Amazon ECR's BatchGetImage ---------------------------------------------------------


@dataclass(frozen=True)
class GotImage:
    """An image id of a BatchGetImage (``tag`` as asked) and what a pull of it got:
    the manifest as text, its digest and media type."""

    tag: str | None
    digest: str
    manifest: str
    media_type: str


def _served_image(repository: Repository, *, digest: str | None, tag: str | None, accepted: set[str]) -> Served:
    """What a registry pull of the image id with ``accepted`` as its Accept header gets."""
    if tag is not None:
        selectors.find_image(repository, digest=digest, tag=tag)
    else:
        selectors.check_image_id(digest=digest, tag=tag)
    try:
        return served_manifest(
            repository=repository,
            # As a pull through the account id names it (schema 1 conversions embed the name).
            name=f"{repository.account_id}/{repository.name}",
            reference=digest or tag,
            accepted=accepted,
            head=False,
        )
    except ManifestUnknown:
        raise selectors.ImageFailure(
            selectors.FailureCode.IMAGE_NOT_FOUND, f"no image {digest or tag} in the repository"
        ) from None
    except (ManifestNotConvertible, ManifestInvalid) as exc:
        raise selectors.ImageFailure(selectors.FailureCode.UNSUPPORTED_IMAGE_TYPE, exc.message) from None


def batch_get_image(
    repository: Repository, image_ids, *, accepted: set[str] | None
) -> tuple[list[GotImage], list[tuple[str | None, str | None, selectors.ImageFailure]]]:
    """Amazon ECR's BatchGetImage over (digest, tag) ids: each image's manifest,
    negotiated exactly as a registry pull with ``accepted`` as its Accept header
    (None: every image as stored), each returned one counted as a pull; and the
    ids that failed, with their ImageFailure."""
    accepted = set(accepted or ["*/*"])
    images, failures = [], []
    for digest, tag in image_ids:
        try:
            served = _served_image(repository, digest=digest, tag=tag, accepted=accepted)
            manifest = served.content.decode("utf-8")
        except UnicodeDecodeError:
            failure = selectors.ImageFailure(
                selectors.FailureCode.UNSUPPORTED_IMAGE_TYPE, "the manifest is not UTF-8 text"
            )
            failures.append((digest, tag, failure))
            continue
        except selectors.ImageFailure as failure:
            failures.append((digest, tag, failure))
            continue
        if served.manifest_id is not None:
            services.record_pull(manifest_id=served.manifest_id)
        images.append(GotImage(tag=tag, digest=served.digest, manifest=manifest, media_type=served.media_type))
    return images, failures

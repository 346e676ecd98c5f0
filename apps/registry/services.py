"""Every write to registry content: uploads, blob links, manifests, tags.

A write is told who makes it (``actor``) and, when a request asked for it, the
request's context, and records its audit event in the transaction of the change,
so the trail and the content never disagree: the event the request started
(``access.authorize``, the management API's views), or, for Berth's own work,
one that says what changed."""

from __future__ import annotations

import io
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.db.models.deletion import ProtectedError
from django.utils import timezone

from apps.audit import services as audit_services
from apps.audit.events import Actor, ActorType
from apps.events import outbox
from apps.events.names import IMAGE_DELETED, IMAGE_PUSHED, REPOSITORY_DELETED, TAG_DELETED, TAG_MOVED
from apps.kernel import json_limits
from apps.kernel.digests import digest_bytes, parse_digest
from apps.kernel.names import TAG_PATTERN
from apps.kernel.requests import RequestContext
from apps.kernel.transactions import retried_on_deadlock
from apps.repositories.models import Repository
from apps.repositories.mutability import tag_is_immutable
from apps.repositories.services import RepositoryNotEmpty, event_fields

from . import quotas, selectors
from .content import media_types as mt
from .content import schema1
from .content.manifests import Descriptor, ParsedManifest, check_foreign_layer_urls, parse_manifest
from .exceptions import (
    BlobInUse,
    BlobUploadBusy,
    BlobUploadUnknown,
    ChunkIncomplete,
    DigestMismatch,
    ManifestBlobUnknown,
    ManifestInUse,
    ManifestInvalid,
    ManifestNameMismatch,
    ManifestTagMismatch,
    ManifestTooLarge,
    ManifestUnknown,
    ReferencedManifestUnknown,
    StorageFull,
    TagImmutable,
    TagInvalid,
    UploadOffsetMismatch,
)
from .models import (
    Blob,
    Manifest,
    ManifestBlob,
    ManifestChild,
    PendingBlob,
    RepositoryBlob,
    Tag,
    TagHistory,
    Upload,
)
from .storage import encryption as storage_encryption
from .storage import get_blob_store, get_upload_store
from .storage.space import out_of_space
from .storage.uploads import OffsetMismatch, ShortBody, UploadBusy, UploadStore

logger = logging.getLogger(__name__)

TAG_GRAMMAR = re.compile(TAG_PATTERN)


def upload_area() -> UploadStore:
    """Where uploads wait: the local upload area, or S3 multipart uploads with the
    S3 blob store (storage/uploads.py)."""
    return get_upload_store()


# -- blobs --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Change:
    """Who makes a change, and the request that asked for it (if one did), under
    the ECR operation's name."""

    actor: Actor
    context: RequestContext | None
    event_name: str

    def record(self, repository: Repository, parameters: dict, **response_elements) -> None:
        """Record the change as the last step of its transaction: ``parameters`` say
        which of the repository's content it is about."""
        audit_services.record_change(
            actor=self.actor,
            context=self.context,
            event_name=self.event_name,
            recipient_account_id=repository.account_id,
            repository=repository.name,
            request_parameters={"registryId": repository.account_id, "repositoryName": repository.name, **parameters},
            response_elements={k: v for k, v in response_elements.items() if v},
        )


def link_blob(*, repository: Repository, blob: Blob) -> None:
    """Link a blob the caller's transaction has claimed (_claim_blob, _store_claimed)."""
    RepositoryBlob.objects.get_or_create(repository=repository, blob=blob)


def _claim_blob(digest: str) -> bool:
    """Touch a stored blob's row ahead of linking it, in the linking transaction:
    False when there is none, or the collector has condemned it (its bytes may be
    gone). The touch locks the row until the transaction ends, so the collector
    cannot condemn the blob in between (collector.py)."""
    return Blob.objects.filter(digest=digest, condemned_at__isnull=True).update(touched_at=timezone.now()) == 1


def _store_claimed(digest: str, size: int, upload_id: str, repository: Repository) -> Blob:
    """Commit verified bytes to the store as ``digest``, claimed for linking in the
    caller's transaction. A condemned blob is pardoned: its row is locked here, so
    the collector's deletion of its bytes either committed already (the row is gone
    and is made anew) or waits and then finds it pardoned, and the store keeps or
    re-writes the bytes under that lock.

    The bytes go to the copy of ``repository``'s encryption scope, written when the
    store lacks it (a blob first pushed to a repository of another scope): blobs are
    shared only between repositories whose encryption settings agree."""
    now = timezone.now()
    if not Blob.objects.filter(digest=digest).update(touched_at=now, condemned_at=None):
        try:
            with transaction.atomic():
                Blob.objects.create(digest=digest, size=size, touched_at=now)
        except IntegrityError:  # another push of the same bytes made the row first
            Blob.objects.filter(digest=digest).update(touched_at=now, condemned_at=None)
    upload_area().commit(upload_id, digest, get_blob_store(), storage_encryption.of(repository))
    return Blob(digest=digest, size=size)


def _lock_links(repository: Repository, digests) -> list[str]:
    """Lock the repository's links to ``digests`` in the order a push locks them
    (_hold_links): a delete takes them before it deletes the manifest and its tags,
    so that it waits for a push holding them, never the push for a tag it holds."""
    return list(
        RepositoryBlob.objects.select_for_update()
        .filter(repository=repository, blob_id__in=sorted(set(digests)))
        .order_by("blob_id")
        .values_list("blob_id", flat=True)
    )


def _release_links(repository: Repository, locked: list[str]) -> None:
    """Drop the repository's links to ``locked`` (the blobs _lock_links locked before
    the caller deleted its manifests) that no manifest of it references any more:
    the repository stops serving them at once, and the collector may take the bytes
    once no repository links them. The references are read after the locks, so a
    push that held a link has committed its manifest by then and keeps the link."""
    if not locked:
        return
    referenced = set(
        ManifestBlob.objects.filter(manifest__repository=repository, blob_id__in=locked).values_list(
            "blob_id", flat=True
        )
    )
    released = [digest for digest in locked if digest not in referenced]
    if released:
        RepositoryBlob.objects.filter(repository=repository, blob_id__in=released).delete()
        _touch_released(Blob.objects.filter(digest__in=released), repository)


def _touch_released(blobs, repository: Repository) -> None:
    """Note that ``repository`` dropped its links to ``blobs``: the collector's grace
    window counts from now."""
    blobs.update(touched_at=timezone.now(), released_from=f"{repository.account_id}/{repository.name}")


def mount_blob(
    *, repository: Repository, source: Repository, digest: str, actor: Actor, context: RequestContext | None = None
) -> Blob | None:
    """Link a blob the caller may pull from ``source`` into ``repository``."""
    blob = selectors.linked_blob(source, digest)
    if blob is None:
        return None
    source_name = f"{source.account_id}/{source.name}"
    with transaction.atomic():
        if not _claim_blob(digest):  # collected meanwhile: the client uploads it instead
            return None
        # The row is claimed: the collector cannot take the bytes now. A repository
        # of another encryption scope may hold the only copy: the client uploads.
        encryption = storage_encryption.of(repository)
        if encryption != storage_encryption.of(source) and not get_blob_store().exists(digest, encryption):
            return None
        quotas.check_blob(repository=repository, digest=digest, size=blob.size)
        link_blob(repository=repository, blob=blob)
        _Change(actor, context, "InitiateLayerUpload").record(
            repository, {"mount": digest, "from": source_name}, layerDigest=digest, mountedFrom=source_name
        )
    return blob


def copy_blob(
    *, repository: Repository, source: Repository, digest: str, actor: Actor, context: RequestContext | None = None
) -> Blob | None:
    """Link a blob of ``source`` into ``repository`` (replication within this
    registry): mounted when the store holds ``repository``'s copy, otherwise read
    from ``source``'s copy and written to ``repository``'s encryption scope through
    the verified upload path. None when ``source`` no longer has the blob."""
    blob = mount_blob(repository=repository, source=source, digest=digest, actor=actor, context=context)
    if blob is not None:
        return blob
    held = selectors.linked_blob(source, digest)
    if held is None:
        return None
    upload = _new_upload(repository)
    try:
        try:
            stream = get_blob_store().open_range(digest, encryption=storage_encryption.of(source))
        except FileNotFoundError:
            cancel_upload(upload=upload)
            return None
        with stream:
            _note_size(upload, _spool(upload, stream, offset=0, length=held.size))
        return _complete_upload(upload, digest, _Change(actor, context, "CompleteLayerUpload"), {})
    except BaseException:
        cancel_upload(upload=upload)
        raise


def unlink_blob(*, repository: Repository, digest: str, actor: Actor, context: RequestContext | None = None) -> bool:
    """Remove the repository's link to a blob; False when it has none. Refused
    (BlobInUse) while a manifest of the repository references the blob: the
    image would stop pulling.

    The link row is locked first, and a manifest push locks the links of the
    blobs it references (_hold_links) before it records them: whichever comes
    second sees what the first committed."""
    with transaction.atomic():
        link = RepositoryBlob.objects.select_for_update().filter(repository=repository, blob_id=digest).first()
        if link is None:
            return False
        referencing = list(
            Manifest.objects.filter(repository=repository, blob_refs__blob_id=digest)
            .order_by("id")
            .values_list("digest", flat=True)[:5]
        )
        if referencing:
            raise BlobInUse(digest, referencing)
        link.delete()
        _touch_released(Blob.objects.filter(digest=digest), repository)
        _Change(actor, context, "BatchDeleteImage").record(repository, {"layerDigest": digest}, layerDigest=digest)
    return True


# -- uploads ------------------------------------------------------------------------


def start_upload(*, repository: Repository, actor: Actor, context: RequestContext | None = None) -> Upload:
    with transaction.atomic():
        upload = _new_upload(repository)
        _Change(actor, context, "InitiateLayerUpload").record(repository, {}, uploadId=str(upload.id))
    return upload


def _new_upload(repository: Repository) -> Upload:
    with transaction.atomic():
        upload = Upload.objects.create(repository=repository)
        upload_area().create(str(upload.id))
    return upload


def get_upload(*, repository: Repository, upload_id: str) -> Upload:
    """The upload session, its ``size`` what the spool file durably holds: the
    row's size is only written after a chunk lands, so a worker killed mid-chunk
    leaves it behind the file (see UploadArea.settled_size). While a request
    writes to it, the size is the row's: what the last chunk that completed left."""
    try:
        key = uuid.UUID(upload_id)
    except ValueError:
        raise BlobUploadUnknown(upload_id) from None
    upload = Upload.objects.select_related("repository").filter(repository=repository, id=key).first()
    if upload is None:
        raise BlobUploadUnknown(upload_id)
    try:
        settled = upload_area().settled_size(str(upload.id))
    except FileNotFoundError:
        raise BlobUploadUnknown(upload_id) from None
    if settled is not None:
        upload.size = settled
    return upload


def append_to_upload(
    *,
    upload: Upload,
    stream,
    offset: int | None,
    length: int | None,
    actor: Actor,
    context: RequestContext | None = None,
) -> int:
    """Spool a chunk; returns the upload's new size. ``offset`` None appends (streamed PATCH)."""
    size = _spool(upload, stream, offset=offset, length=length)
    with transaction.atomic():
        _note_size(upload, size)
        _Change(actor, context, "UploadLayerPart").record(
            upload.repository,
            {"uploadId": str(upload.id)},
            uploadId=str(upload.id),
            lastByteReceived=size - 1 if size else None,
        )
    return size


def _spool(upload: Upload, stream, *, offset: int | None, length: int | None) -> int:
    """Spool a chunk; returns the upload's new size, which the caller notes (_note_size)."""
    try:
        size = upload_area().append(str(upload.id), stream, offset=offset, length=length)
    except OffsetMismatch as exc:
        raise UploadOffsetMismatch(offset=offset, size=exc.current_size) from exc
    except UploadBusy as exc:
        raise BlobUploadBusy(str(upload.id)) from exc
    except ShortBody as exc:
        raise ChunkIncomplete(expected=exc.expected, received=exc.received) from exc
    except FileNotFoundError as exc:  # cancelled while the chunk came
        raise BlobUploadUnknown(str(upload.id)) from exc
    except Exception as exc:  # OSError from the upload area, ClientError from S3
        if not out_of_space(exc):
            raise
        # The area took the chunk back: the upload holds what it held before.
        held = upload_area().size(str(upload.id)) or 0
        logger.error("upload area full: upload %s keeps %s bytes: %s", upload.id, held, exc)
        raise StorageFull(
            f"the registry's upload storage is full: the chunk was not stored and the upload holds {held} bytes; "
            "resume once space is freed",
            upload_size=held,
        ) from exc
    return size


def _note_size(upload: Upload, size: int) -> None:
    Upload.objects.filter(pk=upload.pk).update(size=size, updated_at=timezone.now())
    upload.size = size


def complete_upload(
    *,
    upload: Upload,
    digest: str,
    actor: Actor,
    context: RequestContext | None = None,
    stream=None,
    offset: int | None = None,
    length: int | None = None,
) -> Blob:
    """Verify the spooled bytes against ``digest`` and commit them as a blob linked
    to the upload's repository. On a mismatch nothing is kept. A completing
    request may carry the upload's last part: ``length`` bytes of ``stream`` at
    ``offset``, spooled first."""
    if stream is not None:
        _note_size(upload, _spool(upload, stream, offset=offset, length=length))
    change = _Change(actor, context, "CompleteLayerUpload")
    return _complete_upload(upload, digest, change, {"uploadId": str(upload.id)})


def upload_blob(
    *,
    repository: Repository,
    digest: str,
    stream,
    length: int | None,
    actor: Actor,
    context: RequestContext | None = None,
) -> Blob:
    """A blob pushed whole in one request (a monolithic upload): its upload is
    started, spooled and completed at once, and cancelled when any of that fails."""
    upload = _new_upload(repository)
    try:
        _note_size(upload, _spool(upload, stream, offset=0, length=length))
        return _complete_upload(upload, digest, _Change(actor, context, "InitiateLayerUpload"), {})
    except BaseException:
        cancel_upload(upload=upload)
        raise


def _complete_upload(
    upload: Upload,
    digest: str,
    change: _Change | None,
    parameters: dict,
    *,
    linked: Callable[[Blob], None] | None = None,
) -> Blob:
    """complete_upload's work; ``change`` (None: a step of a larger change that
    records itself) is recorded with it, about ``parameters`` and the digest.
    ``linked`` runs in the linking transaction, after the link."""
    algorithm, encoded = parse_digest(digest)
    area = upload_area()
    key = str(upload.id)
    try:
        # Exclusive: two completions of one upload (a retried PUT) must not both commit.
        with area.exclusive(key):
            actual = area.hexdigest(key, algorithm)
            size = area.size(key)
            if actual != encoded:
                area.discard(key)
                Upload.objects.filter(pk=upload.pk).delete()
                raise DigestMismatch(expected=digest, actual=f"{algorithm}:{actual}", what="blob")
            if change is not None:  # store_blob's few bytes of the registry's own are never refused
                _check_blob_quota(upload, digest, size)
            try:
                # The bytes are committed to the store in the transaction that claims
                # and links their row: the collector cannot take them in between.
                with transaction.atomic():
                    blob = _store_claimed(digest, size, key, upload.repository)
                    link_blob(repository=upload.repository, blob=blob)
                    if linked is not None:
                        linked(blob)
                    Upload.objects.filter(pk=upload.pk).delete()
                    if change is not None:
                        change.record(
                            upload.repository,
                            {**parameters, "layerDigest": digest},
                            uploadId=str(upload.id),
                            layerDigest=digest,
                        )
            except Exception as exc:
                if not out_of_space(exc):
                    raise
                # As distribution does with a failed commit: the session goes, and
                # the space its bytes held with it.
                area.discard(key)
                Upload.objects.filter(pk=upload.pk).delete()
                logger.error("blob store full: blob %s of upload %s not stored: %s", digest, key, exc)
                raise StorageFull(
                    f"the registry's blob storage is full: blob {digest} was not stored and the upload is "
                    "cancelled; push it again once space is freed"
                ) from exc
            area.forget(key)
    except FileNotFoundError:
        raise BlobUploadUnknown(key) from None
    except UploadBusy:
        raise BlobUploadBusy(key) from None
    return blob


def _check_blob_quota(upload: Upload, digest: str, size: int) -> None:
    """The storage quota (quotas.check_blob) before a verified upload is committed: a
    refused upload is cancelled, its spooled bytes with it, and nothing is stored."""
    try:
        quotas.check_blob(repository=upload.repository, digest=digest, size=size)
    except quotas.QuotaExceeded:
        cancel_upload(upload=upload)
        raise


def store_blob(*, repository: Repository, data: bytes) -> Blob:
    """Store small bytes the registry itself produces (e.g. schema 1's empty layer)
    as a blob linked to ``repository``, through the same verified path as a push;
    a step of the change that needs the blob, which records nothing of its own."""
    upload = _new_upload(repository)
    try:
        _note_size(upload, _spool(upload, io.BytesIO(data), offset=0, length=len(data)))
        return _complete_upload(upload, digest_bytes(data), None, {})
    except BaseException:
        cancel_upload(upload=upload)
        raise


def cancel_upload(*, upload: Upload) -> None:
    upload_area().discard(str(upload.id))
    Upload.objects.filter(pk=upload.pk).delete()


def expire_abandoned_uploads(*, older_than: timedelta | None = None) -> int:
    """Remove upload sessions untouched for longer than the expiry, and spool files
    that lost their session (a crash between the two writes)."""
    older_than = older_than or timedelta(seconds=settings.BERTH_UPLOAD_EXPIRY_SECONDS)
    cutoff = timezone.now() - older_than
    area = upload_area()
    expired = 0
    # A session a request still writes to (an unexpired S3 upload lease) is not abandoned.
    writing = Q(lease_expires_at__gt=timezone.now())
    for upload_id in Upload.objects.filter(updated_at__lt=cutoff).exclude(writing).values_list("id", flat=True):
        area.discard(str(upload_id))
        Upload.objects.filter(pk=upload_id).delete()
        expired += 1
    live = {str(u) for u in Upload.objects.values_list("id", flat=True)}
    return expired + area.sweep(live, cutoff)


# -- manifests ----------------------------------------------------------------------


def validate_tag(tag: str) -> None:
    if not TAG_GRAMMAR.fullmatch(tag):
        raise TagInvalid(tag)


@lru_cache(maxsize=8)
def _url_pattern(pattern: str) -> re.Pattern | None:
    return re.compile(pattern) if pattern else None


def _check_references(
    repository: Repository, parsed: ParsedManifest, *, pending: list[Descriptor] | None = None
) -> tuple[list[Blob], list[Manifest]]:
    """The blobs and manifests the pushed manifest references, each checked to be
    in the repository as described. A foreign layer's blob may be absent: clients
    fetch it from its URLs; if it was pushed anyway it is referenced like any other.
    With ``pending`` (a cached manifest), the descriptors of other blobs the
    repository lacks are added to it instead of refusing the manifest."""
    check_foreign_layer_urls(
        parsed,
        allow=_url_pattern(settings.BERTH_FOREIGN_LAYER_URLS_ALLOW),
        deny=_url_pattern(settings.BERTH_FOREIGN_LAYER_URLS_DENY),
    )
    linked = selectors.linked_blobs_among(repository, [d.digest for d in parsed.blob_descriptors])
    for descriptor in parsed.blob_descriptors:
        blob = linked.get(descriptor.digest)
        if blob is None:
            if descriptor.is_foreign_layer:
                continue
            if pending is not None:
                pending.append(descriptor)
                continue
            raise ManifestBlobUnknown(descriptor.digest)
        if blob.size != descriptor.size:
            raise ManifestInvalid(
                f"descriptor size {descriptor.size} of {descriptor.digest} does not match the blob ({blob.size})"
            )
    blobs = list(linked.values())
    wanted = list(dict.fromkeys(d.digest for d in parsed.manifests))
    found = {
        child.digest: child
        for child in Manifest.objects.filter(repository=repository, digest__in=wanted).only(
            "id", "digest", "size", "media_type"
        )
    }
    for digest in wanted:
        if digest not in found:
            raise ReferencedManifestUnknown(digest)
    for number, descriptor in enumerate(parsed.manifests):
        _check_manifest_descriptor(descriptor, found[descriptor.digest], f"manifests[{number}]")
    if parsed.subject is not None:
        # The spec has a registry accept a referrer before its subject; a subject
        # that is here must be described as it is.
        subject = (
            Manifest.objects.filter(repository=repository, digest=parsed.subject.digest)
            .only("id", "digest", "size", "media_type")
            .first()
        )
        if subject is not None:
            _check_manifest_descriptor(parsed.subject, subject, "subject")
    return blobs, [found[digest] for digest in wanted]


def _check_manifest_descriptor(descriptor: Descriptor, manifest: Manifest, where: str) -> None:
    """A client fetches what a descriptor names by its digest, then checks the size
    and media type it gets against it: a descriptor that disagrees with the stored
    manifest would fail every pull."""
    if descriptor.size != manifest.size or descriptor.media_type != manifest.media_type:
        raise ManifestInvalid(
            f"{where} describes {descriptor.digest} as {descriptor.size} bytes of {descriptor.media_type}; "
            f"the repository holds it as {manifest.size} bytes of {manifest.media_type}",
            digest=descriptor.digest,
        )


@retried_on_deadlock
def put_manifest(
    *,
    repository: Repository,
    name: str,
    reference: str,
    body: bytes,
    content_type: str,
    actor: Actor,
    context: RequestContext | None = None,
) -> Manifest:
    """Validate and store a pushed manifest byte for byte; ``name`` is the
    repository as the client addressed it (schema 1 manifests carry it)."""
    tag, digest = (None, reference) if ":" in reference else (reference, None)
    manifest, _ = _put_manifest(
        repository=repository,
        name=name,
        tag=tag,
        digest=digest,
        body=body,
        content_type=content_type,
        change=_Change(actor, context, "PutImage"),
    )
    return manifest


@retried_on_deadlock
def put_image(
    *,
    repository: Repository,
    body: bytes,
    media_type: str,
    tag: str | None,
    digest: str | None,
    actor: Actor,
    context: RequestContext | None = None,
) -> tuple[Manifest, bool]:
    """Amazon ECR's PutImage: store a manifest through the same checks as a push,
    tagged with ``tag`` if given, verified against ``digest`` if given. Returns the
    manifest and whether the push changed anything: it changes nothing when the
    repository already holds the manifest (and the tag already points at it)."""
    return _put_manifest(
        repository=repository,
        # Schema 1 manifests name their repository as pushes address it: by account id.
        name=f"{repository.account_id}/{repository.name}",
        tag=tag,
        digest=digest,
        body=body,
        content_type=media_type,
        change=_Change(actor, context, "PutImage"),
    )


def _put_manifest(
    *,
    repository: Repository,
    name: str,
    tag: str | None,
    digest: str | None,
    body: bytes,
    content_type: str,
    change: _Change,
) -> tuple[Manifest, bool]:
    """The manifest, and whether the push changed anything (a new manifest, or a
    tag created or moved). Without a tag the manifest is stored by its digest,
    which ``digest`` (if given) must match."""
    if len(body) > settings.BERTH_MAX_MANIFEST_BYTES:
        raise ManifestTooLarge(size=len(body), limit=settings.BERTH_MAX_MANIFEST_BYTES)
    if _is_schema1(body, content_type):
        return _put_schema1(
            repository=repository,
            name=name,
            tag=tag,
            digest=digest,
            body=body,
            content_type=content_type,
            change=change,
        )
    parsed = parse_manifest(body, content_type)
    if digest is not None:
        algorithm, _ = parse_digest(digest)
        actual = digest_bytes(body, algorithm)
        if actual != digest:
            raise DigestMismatch(expected=digest, actual=actual, what="manifest")
    else:
        actual = digest_bytes(body, "sha256")
    if tag is not None:
        validate_tag(tag)
    blobs, children = _check_references(repository, parsed)
    return _store_manifest(
        repository=repository,
        digest=actual,
        tag=tag,
        change=change,
        parameters={"imageTag": tag, "imageDigest": digest, "imageManifestMediaType": content_type},
        blobs=blobs,
        children=children,
        fields=_manifest_fields(parsed, body),
    )


def _manifest_fields(parsed: ParsedManifest, body: bytes) -> dict:
    """A stored manifest's columns, from its parsed body."""
    return {
        "media_type": parsed.media_type,
        "size": len(body),
        "content": body,
        "artifact_type": parsed.artifact_type,
        "config_media_type": parsed.config.media_type if parsed.config else "",
        "subject_digest": parsed.subject.digest if parsed.subject else "",
        "annotations": parsed.annotations,
    }


def _is_schema1(body: bytes, content_type: str) -> bool:
    media_type = content_type.split(";")[0].strip()
    if media_type in (mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED):
        return True
    if media_type in mt.MANIFEST_TYPES:
        return False
    try:  # no or a generic Content-Type: the document says which schema it is
        document = json_limits.loads(body, max_depth=settings.BERTH_MAX_JSON_DEPTH)
    except ValueError:  # parse_manifest says what is wrong with it
        return False
    return isinstance(document, dict) and document.get("schemaVersion") == 1


def _put_schema1(
    *,
    repository: Repository,
    name: str,
    tag: str | None,
    digest: str | None,
    body: bytes,
    content_type: str,
    change: _Change,
) -> tuple[Manifest, bool]:
    media_type = content_type.split(";")[0].strip()
    if media_type not in (mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED):
        media_type = mt.DOCKER_SCHEMA1
    manifest = schema1.parse_schema1(body, media_type)
    if manifest.name != name:
        raise ManifestNameMismatch(named=manifest.name, addressed=name)
    if digest is not None:
        parse_digest(digest)
        if manifest.digest != digest:
            raise DigestMismatch(expected=digest, actual=manifest.digest, what="manifest")
    if tag is not None:
        validate_tag(tag)
        if manifest.tag != tag:
            raise ManifestTagMismatch(tag=tag, manifest_tag=manifest.tag)
    blobs = selectors.linked_blobs(repository, manifest.fs_layers)
    return _store_manifest(
        repository=repository,
        digest=manifest.digest,
        tag=tag,
        change=change,
        parameters={"imageTag": tag, "imageDigest": digest, "imageManifestMediaType": content_type},
        blobs=blobs,
        children=[],
        fields={
            "media_type": mt.DOCKER_SCHEMA1_SIGNED if manifest.signed else mt.DOCKER_SCHEMA1,
            "size": len(body),
            "content": body,
        },
    )


def _store_manifest(
    *,
    repository: Repository,
    digest: str,
    tag: str | None,
    change: _Change,
    parameters: dict,
    blobs,
    children,
    fields: dict,
    pending: Iterable[Descriptor] = (),
    pushed_payload: dict | None = None,
) -> tuple[Manifest, bool]:
    with transaction.atomic():
        quotas.check_manifest(repository=repository, digest=digest)
        # Manifests before links, as a delete locks them (delete_image, _release_links).
        _hold_manifests(repository, children)
        manifest, created = _get_or_create_manifest(repository, digest, fields)
        _hold_links(repository, blobs)
        if created:
            ManifestBlob.objects.bulk_create(
                [ManifestBlob(manifest=manifest, blob=blob) for blob in {b.digest: b for b in blobs}.values()]
            )
            ManifestChild.objects.bulk_create(
                [ManifestChild(parent=manifest, child=child) for child in {c.id: c for c in children}.values()]
            )
            PendingBlob.objects.bulk_create(
                [
                    PendingBlob(manifest=manifest, repository=repository, digest=d.digest, size=d.size)
                    for d in {d.digest: d for d in pending}.values()
                ]
            )
        tag_moved, previous_digest = (
            _point_tag(repository=repository, tag=tag, manifest=manifest, actor=change.actor.display_name)
            if tag is not None
            else (False, "")
        )
        if created:
            outbox.publish(
                IMAGE_PUSHED,
                {**event_fields(repository), "manifestId": manifest.pk, "digest": digest,
                 "mediaType": fields["media_type"], "tag": tag, **(pushed_payload or {})},
            )  # fmt: skip
        if tag_moved:
            outbox.publish(
                TAG_MOVED, {**event_fields(repository), "tag": tag, "digest": digest, "previousDigest": previous_digest}
            )
        # The trail's answer to "what did this tag point at before": previousImageDigest.
        change.record(
            repository,
            parameters,
            image={"imageId": {"imageDigest": digest, "imageTag": tag}, "imageManifestMediaType": fields["media_type"]},
            previousImageDigest=previous_digest,
        )
    return manifest, created or tag_moved


def _hold_links(repository: Repository, blobs) -> None:
    """Lock the repository's links to ``blobs`` until the push commits, so that a
    blob delete waits for it and then finds the manifest (see unlink_blob); a link
    deleted since the references were checked refuses the push. Locked in digest
    order, so that pushes sharing blobs never wait on each other in a cycle."""
    wanted = sorted({blob.digest for blob in blobs})
    held = set(_lock_links(repository, wanted))
    for digest in wanted:
        if digest not in held:
            raise ManifestBlobUnknown(digest, f"blob {digest} was deleted from the repository during the push")


def _hold_manifests(repository: Repository, children) -> None:
    """Lock the index entries a push references against deletion until it commits;
    one deleted since the references were checked refuses the push."""
    wanted = sorted({child.pk for child in children})
    held = set(
        Manifest.objects.select_for_update(no_key=True)
        .filter(pk__in=wanted)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for child in children:
        if child.pk not in held:
            raise ReferencedManifestUnknown(child.digest)


def _get_or_create_manifest(repository: Repository, digest: str, fields: dict) -> tuple[Manifest, bool]:
    """The repository's manifest ``digest``, locked against deletion until the push
    commits (its tag will reference it), or a new one made of ``fields``. A manifest
    being deleted now is waited for, then made anew."""
    for attempt in range(3):
        existing = Manifest.objects.select_for_update(no_key=True).filter(repository=repository, digest=digest).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                return Manifest.objects.create(repository=repository, digest=digest, **fields), True
        except IntegrityError:  # pushed at the same time by another client: take theirs
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _point_tag(*, repository: Repository, tag: str, manifest: Manifest, actor: str) -> tuple[bool, str]:
    """Point ``tag`` at ``manifest``: (whether that changed anything, the digest it
    pointed at before; "" for a new tag)."""
    # The tag row only: locking the manifest it points at too would hold up pushes
    # that reference that manifest.
    current = (
        Tag.objects.select_for_update(of=("self",))
        .select_related("manifest")
        .filter(repository=repository, name=tag)
        .first()
    )
    if current is None:
        try:
            with transaction.atomic():
                Tag.objects.create(repository=repository, name=tag, manifest=manifest)
        except IntegrityError:
            # Another push created the tag first: move it like any other tag.
            current = (
                Tag.objects.select_for_update(of=("self",))
                .select_related("manifest")
                .get(repository=repository, name=tag)
            )
        else:
            TagHistory.objects.create(repository=repository, tag=tag, new_digest=manifest.digest, actor=actor)
            return True, ""
    if current.manifest_id == manifest.pk:
        return False, manifest.digest
    old_digest = current.manifest.digest
    if tag_is_immutable(repository, tag):
        raise TagImmutable(
            tag=tag,
            repository=f"{repository.account_id}/{repository.name}",
            current=old_digest,
            pushed=manifest.digest,
        )
    current.manifest = manifest
    current.save(update_fields=["manifest", "updated_at"])
    TagHistory.objects.create(
        repository=repository, tag=tag, old_digest=old_digest, new_digest=manifest.digest, actor=actor
    )
    return True, old_digest


@retried_on_deadlock
def delete_manifest(
    *, repository: Repository, digest: str, actor: Actor, context: RequestContext | None = None
) -> None:
    with transaction.atomic():
        # Locked first: an index push that locked it as an entry has committed by the
        # check below, and a later one waits for the delete.
        manifest = (
            Manifest.objects.select_for_update().defer("content").filter(repository=repository, digest=digest).first()
        )
        if manifest is None:
            raise ManifestUnknown(digest=digest)
        if ManifestChild.objects.filter(child=manifest).exists():
            raise ManifestInUse(digest)
        tags = sorted(Tag.objects.filter(manifest=manifest).values_list("name", flat=True))
        for tag in tags:
            TagHistory.objects.create(repository=repository, tag=tag, old_digest=digest, actor=actor.display_name)
        blobs = list(ManifestBlob.objects.filter(manifest=manifest).values_list("blob_id", flat=True))
        locked = _lock_links(repository, blobs)
        manifest.delete()
        _release_links(repository, locked)
        outbox.publish(
            IMAGE_DELETED,
            {**event_fields(repository), "digest": digest, "tags": tags, "reason": deletion_reason(actor)},
        )
        _Change(actor, context, "BatchDeleteImage").record(
            repository, {"imageDigest": digest}, imageIds=[{"imageDigest": digest}]
        )


@retried_on_deadlock
def delete_tag(*, repository: Repository, tag: str, actor: Actor, context: RequestContext | None = None) -> None:
    with transaction.atomic():
        current = Tag.objects.select_related("manifest").filter(repository=repository, name=tag).first()
        if current is None:
            raise ManifestUnknown(f"tag {tag} is unknown", tag=tag)
        TagHistory.objects.create(
            repository=repository, tag=tag, old_digest=current.manifest.digest, actor=actor.display_name
        )
        current.delete()
        outbox.publish(TAG_DELETED, {**event_fields(repository), "tag": tag, "digest": current.manifest.digest})
        _Change(actor, context, "BatchDeleteImage").record(
            repository, {"imageTag": tag}, imageIds=[{"imageDigest": current.manifest.digest, "imageTag": tag}]
        )


# -- images, as the management API names them ---------------------------------------


def _image_id(digest: str | None, tag: str | None) -> dict:
    return {
        **({"imageDigest": digest} if digest is not None else {}),
        **({"imageTag": tag} if tag is not None else {}),
    }


@dataclass(frozen=True)
class BatchDeleted:
    """What a BatchDeleteImage did: the (digest, tag) pairs removed (see delete_image),
    and for each image id that failed, (digest, tag, the failure)."""

    removed: list[tuple[str, str | None]]
    failures: list[tuple[str | None, str | None, selectors.ImageFailure]]


@retried_on_deadlock
def batch_delete_image(
    *,
    repository: Repository,
    image_ids: list[tuple[str | None, str | None]],
    actor: Actor,
    context: RequestContext | None = None,
    cascade: bool = False,
) -> BatchDeleted:
    """Amazon ECR's BatchDeleteImage: each (digest, tag) image id as delete_image
    deletes it, succeeding or failing on its own; one event records the batch, its
    failures too (a batch where every id failed is still a request that succeeded)."""
    removed, failures = [], []
    with transaction.atomic():
        for digest, tag in image_ids:
            try:
                removed += delete_image(repository=repository, digest=digest, tag=tag, actor=actor, cascade=cascade)
            except selectors.ImageFailure as failure:
                failures.append((digest, tag, failure))
        _Change(actor, context, "BatchDeleteImage").record(
            repository,
            {"imageIds": [_image_id(digest, tag) for digest, tag in image_ids], "withDependents": cascade or None},
            imageIds=[_image_id(digest, tag) for digest, tag in removed],
            failures=[
                {"imageId": _image_id(digest, tag), "failureCode": str(failure.code), "failureReason": failure.reason}
                for digest, tag, failure in failures
            ],
        )
    return BatchDeleted(removed=removed, failures=failures)


def delete_image(
    *, repository: Repository, digest: str | None, tag: str | None, actor: Actor, cascade: bool = False
) -> list[tuple[str, str | None]]:
    """Amazon ECR's BatchDeleteImage for one image id; raises selectors.ImageFailure.
    One step of a batch (batch_delete_image), which records the batch's one event.

    By tag, the tag goes, and the image with it when that was its last tag. By
    digest, or by a tag with the digest it points at, the image goes with all its
    tags. An image an index references stays, tag and all. With ``cascade``, what
    only this image held goes with it: its referrers (signatures, SBOMs), and the
    untagged entries of an index that no other index lists. Returns the image ids
    removed: (digest, tag) for each tag, (digest, None) for an untagged image."""
    selectors.check_image_id(digest=digest, tag=tag)
    with transaction.atomic():
        if tag is not None:
            current = (
                Tag.objects.select_for_update()
                .select_related("manifest")
                .defer("manifest__content")
                .filter(repository=repository, name=tag)
                .first()
            )
            if current is None:
                raise selectors.ImageFailure(
                    selectors.FailureCode.IMAGE_NOT_FOUND, f"no image is tagged {tag} in the repository"
                )
            manifest = current.manifest
            if digest is not None and manifest.digest != digest:
                raise selectors.ImageFailure(
                    selectors.FailureCode.IMAGE_TAG_DOES_NOT_MATCH_DIGEST,
                    f"tag {tag} points at {manifest.digest}, not at {digest}",
                )
            if digest is None and Tag.objects.filter(manifest=manifest).exclude(pk=current.pk).exists():
                TagHistory.objects.create(
                    repository=repository, tag=tag, old_digest=manifest.digest, actor=actor.display_name
                )
                current.delete()
                outbox.publish(TAG_DELETED, {**event_fields(repository), "tag": tag, "digest": manifest.digest})
                return [(manifest.digest, tag)]
        else:
            manifest = (
                Manifest.objects.select_for_update()
                .defer("content")
                .filter(repository=repository, digest=digest)
                .first()
            )
            if manifest is None:
                raise selectors.ImageFailure(
                    selectors.FailureCode.IMAGE_NOT_FOUND, f"no image {digest} in the repository"
                )
        return _delete_image(
            repository=repository,
            manifest=manifest,
            actor=actor.display_name,
            reason=deletion_reason(actor),
            cascade=cascade,
        )


def deletion_reason(actor: Actor) -> str:
    """What image.deleted says caused a deletion: Berth's own component when Berth did
    it ("lifecycle" for a lifecycle policy's expiry, "replication"), else "request"."""
    return actor.username if actor.type == ActorType.SYSTEM and actor.username else "request"


def _delete_image(
    *, repository: Repository, manifest: Manifest, actor: str, reason: str, cascade: bool = False
) -> list[tuple[str, str | None]]:
    def referenced(indexes: list[str]) -> selectors.ImageFailure:
        return selectors.ImageFailure(
            selectors.FailureCode.IMAGE_REFERENCED_BY_MANIFEST_LIST,
            f"image {manifest.digest} is referenced by manifest list {', '.join(indexes)}; delete that first",
        )

    indexes = list(Manifest.objects.filter(child_refs__child=manifest).values_list("digest", flat=True)[:5])
    if indexes:
        raise referenced(indexes)
    removed = []
    if cascade:
        for referrer in _manifests(repository).filter(subject_digest=manifest.digest):
            removed += _delete_image(repository=repository, manifest=referrer, actor=actor, reason=reason, cascade=True)
    children = list(ManifestChild.objects.filter(parent=manifest).values_list("child_id", flat=True))
    tags = sorted(Tag.objects.filter(manifest=manifest).values_list("name", flat=True))
    TagHistory.objects.bulk_create(
        [TagHistory(repository=repository, tag=tag, old_digest=manifest.digest, actor=actor) for tag in tags]
    )
    blobs = list(ManifestBlob.objects.filter(manifest=manifest).values_list("blob_id", flat=True))
    locked = _lock_links(repository, blobs)
    try:
        with transaction.atomic():
            manifest.delete()
    except ProtectedError:
        # An index that lists it was pushed since the check above.
        raise referenced(
            list(Manifest.objects.filter(child_refs__child=manifest).values_list("digest", flat=True)[:5])
        ) from None
    _release_links(repository, locked)
    outbox.publish(
        IMAGE_DELETED, {**event_fields(repository), "digest": manifest.digest, "tags": tags, "reason": reason}
    )
    removed += [(manifest.digest, tag) for tag in tags] or [(manifest.digest, None)]
    if cascade and children:
        # Entries another index lists, or that carry a tag of their own, are images
        # in their own right and stay.
        orphans = _manifests(repository).filter(pk__in=children, parent_refs__isnull=True, tags__isnull=True)
        for child in orphans:
            removed += _delete_image(repository=repository, manifest=child, actor=actor, reason=reason, cascade=True)
    return removed


def _manifests(repository: Repository):
    """The repository's manifests, locked for deletion, without their bodies."""
    return (
        Manifest.objects.select_for_update(of=("self",)).defer("content").filter(repository=repository).order_by("id")
    )


# -- repositories, with their content ----------------------------------------------


def delete_repository(
    *, repository: Repository, force: bool = False, actor: Actor, context: RequestContext | None = None
) -> None:
    """Amazon ECR's DeleteRepository: refuses a repository that holds images unless
    ``force``, which deletes them with it (raises RepositoryNotEmpty). The spooled
    bytes of its unfinished uploads go once the delete has committed
    (subscribers.discard_spooled_uploads)."""
    change = _Change(actor, context, "DeleteRepository")
    with transaction.atomic():
        # Locked first, so a push that is storing a manifest now either lands before
        # the check sees it or waits and then fails: never a deleted repository's image.
        locked = Repository.objects.select_for_update().filter(pk=repository.pk).first()
        if locked is None:  # deleted meanwhile: what was asked for is done
            change.record(repository, {"force": force})
            return
        manifest_count = Manifest.objects.filter(repository=locked).count()
        if manifest_count and not force:
            raise RepositoryNotEmpty(
                f"repository {locked.account_id}/{locked.name} is not empty ({manifest_count} manifests); "
                "delete its images first, or delete it with force"
            )
        upload_ids = [str(u) for u in Upload.objects.filter(repository=locked).values_list("id", flat=True)]
        fields = event_fields(locked)
        # Its links go with it (cascade); the collector counts their blobs' grace from now.
        _touch_released(Blob.objects.filter(links__repository=locked), locked)
        # An index protects its entries from deletion; here both go.
        ManifestChild.objects.filter(parent__repository=locked).delete()
        Manifest.objects.filter(repository=locked).delete()
        locked.delete()
        outbox.publish(REPOSITORY_DELETED, {**fields, "uploadIds": upload_ids})
        change.record(locked, {"force": force}, imageCount=manifest_count)


# -- the pull-through cache's content ----------------------------------------------
#
# A cached manifest is stored before the blobs it references (the client gets it at
# once; each layer comes when asked for): the blobs its repository does not link
# are PendingBlob rows until a fill (start_blob_fill ... complete_blob_fill) brings
# their bytes through the upload area, verified like a push's, and links them.

IMPORT_EVENT = "BatchImportUpstreamImage"
_FILL_NOTE_INTERVAL = 30.0


@retried_on_deadlock
def store_cached_manifest(
    *,
    repository: Repository,
    body: bytes,
    media_type: str,
    tag: str | None,
    digest: str | None,
    upstream: str,
    actor: Actor,
) -> tuple[Manifest, list[Descriptor]]:
    """Store a manifest the upstream registry ``upstream`` (its URL and repository)
    served, for the pull-through cache: validated as a push is, tagged ``tag`` (a
    move publishes tag.moved), verified against ``digest`` when given; an index's
    entries must be stored first. Returns the manifest and the descriptors of the
    blobs still to fetch. Records BatchImportUpstreamImage naming the upstream, the
    tag, the digest and the one the tag pointed at before (previousImageDigest):
    the trail's record of an upstream tag move."""
    if len(body) > settings.BERTH_MAX_MANIFEST_BYTES:
        raise ManifestTooLarge(size=len(body), limit=settings.BERTH_MAX_MANIFEST_BYTES)
    if _is_schema1(body, media_type):
        # Schema 1 names its repository and tag: the upstream's, not the cache's.
        raise ManifestInvalid(
            f"{upstream} served a Docker schema 1 manifest, which the pull-through cache does not store"
        )
    parsed = parse_manifest(body, media_type)
    actual = digest_bytes(body, parse_digest(digest)[0] if digest else "sha256")
    if digest is not None and actual != digest:
        raise DigestMismatch(expected=digest, actual=actual, what="manifest")
    if tag is not None:
        validate_tag(tag)
    pending: list[Descriptor] = []
    blobs, children = _check_references(repository, parsed, pending=pending)
    manifest, _ = _store_manifest(
        repository=repository,
        digest=actual,
        tag=tag,
        change=_Change(actor, None, IMPORT_EVENT),
        parameters={"imageTag": tag, "imageDigest": actual, "upstream": upstream},
        blobs=blobs,
        children=children,
        fields=_manifest_fields(parsed, body),
        pending=pending,
        pushed_payload={"upstream": upstream},
    )
    return manifest, pending


class BlobFill:
    """One blob on its way from an upstream registry into the store: its bytes spool
    in an upload session as they pass to the client (write), then are verified and
    linked (commit), or thrown away (discard) when the fetch or the client fails."""

    def __init__(self, *, repository: Repository, digest: str, upstream: str, actor: Actor) -> None:
        self.digest = digest
        self.upstream = upstream
        self.actor = actor
        self.upload = _new_upload(repository)
        self.size = 0
        self._noted_at = time.monotonic()
        # Bytes gathered before they are spooled, up to the store's batch size: an
        # append to an S3 upload costs requests, not one per network read.
        self._batch = bytearray()
        self._batch_size = upload_area().batch_size

    def write(self, data: bytes) -> None:
        self._batch += data
        self.size += len(data)
        if len(self._batch) >= self._batch_size:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        data, self._batch = bytes(self._batch), bytearray()
        self.size = _spool(self.upload, io.BytesIO(data), offset=None, length=len(data))
        # The session's row is touched now and then, so that the sweep of abandoned
        # uploads leaves a long fill be.
        if time.monotonic() - self._noted_at > _FILL_NOTE_INTERVAL:
            _note_size(self.upload, self.size)
            self._noted_at = time.monotonic()

    def commit(self) -> Blob:
        """Verify the bytes against the digest and commit them as a blob linked to
        the repository, turning its pending references to the blob into ManifestBlob
        rows in the linking transaction. A mismatch keeps nothing (DigestMismatch)."""
        repository = self.upload.repository

        def reference(blob: Blob) -> None:
            waiting = PendingBlob.objects.filter(repository=repository, digest=blob.digest)
            manifest_ids = sorted(set(waiting.values_list("manifest_id", flat=True)))
            ManifestBlob.objects.bulk_create(
                [ManifestBlob(manifest_id=manifest_id, blob_id=blob.digest) for manifest_id in manifest_ids],
                ignore_conflicts=True,
            )
            waiting.delete()

        self._flush()
        change = _Change(self.actor, None, IMPORT_EVENT)
        return _complete_upload(self.upload, self.digest, change, {"upstream": self.upstream}, linked=reference)

    def discard(self) -> None:
        cancel_upload(upload=self.upload)


# -- pulls --------------------------------------------------------------------------

PULL_RECORD_INTERVAL = 60.0
# Manifest id -> time.monotonic() of this process's last write of its pull time.
recorded_pulls: dict[int, float] = {}
_RECORDED_PULLS_LIMIT = 100_000


def record_pull(*, manifest_id: int) -> None:
    """Note that a pull fetched a manifest (Manifest.last_pulled_at, Amazon ECR's
    lastRecordedPullTime). A process writes at most once a minute per manifest;
    otherwise this is one dictionary lookup, so the manifest GET hot path does not
    wait on the database."""
    now = time.monotonic()
    last = recorded_pulls.get(manifest_id)
    if last is not None and now - last < PULL_RECORD_INTERVAL:
        return
    if len(recorded_pulls) >= _RECORDED_PULLS_LIMIT:
        recorded_pulls.clear()  # at worst one extra write per manifest
    recorded_pulls[manifest_id] = now
    try:
        with transaction.atomic():
            Manifest.objects.filter(pk=manifest_id).update(last_pulled_at=timezone.now())
    except DatabaseError:
        # The pull itself succeeded: a busy database only delays its bookkeeping.
        logger.warning("could not record a pull of manifest %s", manifest_id, exc_info=True)

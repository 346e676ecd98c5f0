"""The registry's refusals: what a push, a pull or a delete of registry content ran
into, as data (apps.kernel.errors). /v2/ says them as the OCI error envelope
(apps.registry.v2.errors.OCI_ERRORS), the management API as its error body
(apps.api.exceptions)."""

from __future__ import annotations

from apps.kernel.errors import DomainError

# -- access -------------------------------------------------------------------------


class TokenRequired(DomainError):
    """The request needs a bearer token from the token service: the Authorization
    header held none; or, for ``repository``, no token came or the one that came
    (``token_sent``) does not grant ``scope_action`` there. ``scope`` is what to
    ask the token service for."""

    default_message = "authentication required"

    def __init__(
        self,
        message: str | None = None,
        *,
        repository: str = "",
        scope_action: str = "",
        scope: str = "",
        token_sent: bool = False,
    ) -> None:
        self.repository = repository
        self.scope_action = scope_action
        self.scope = scope
        self.token_sent = token_sent
        super().__init__(message)


class TokenInvalid(DomainError):
    """The bearer token is not one the token service issued, has expired, or the
    credential it was issued from no longer holds."""


class ActionDenied(DomainError):
    """The caller's token reaches the repository, but its policies refuse the action."""


class RepositoryUnknown(DomainError):
    """No repository ``name``, and the request does not create it."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(message)


# -- blobs and uploads --------------------------------------------------------------


class BlobInUse(DomainError):
    """Manifests of the repository (the first few: ``manifests``) reference blob
    ``digest``: unlinking it would break them."""

    def __init__(self, digest: str, manifests: list[str]) -> None:
        self.digest = digest
        self.manifests = manifests
        super().__init__(
            f"blob {digest} is referenced by manifest {', '.join(manifests)} of this repository; "
            "delete the manifests that reference it first"
        )


class BlobUploadUnknown(DomainError):
    """No upload session ``upload_id`` in the repository (any more)."""

    default_message = "blob upload unknown to registry"

    def __init__(self, upload_id: str) -> None:
        self.upload_id = upload_id
        super().__init__()


class BlobUploadBusy(DomainError):
    """Another request is writing to upload ``upload_id`` right now."""

    default_message = "another request is writing to this upload"

    def __init__(self, upload_id: str) -> None:
        self.upload_id = upload_id
        super().__init__()


class UploadOffsetMismatch(DomainError):
    """A chunk starts at ``offset`` where the upload holds ``size`` bytes."""

    def __init__(self, *, offset: int, size: int) -> None:
        self.offset = offset
        self.size = size
        super().__init__(f"chunk starts at {offset} but the upload holds {size} bytes")


class ChunkIncomplete(DomainError):
    """A chunk's body ended after ``received`` of its ``expected`` bytes."""

    def __init__(self, *, expected: int, received: int) -> None:
        self.expected = expected
        self.received = received
        super().__init__(f"expected {expected} bytes, received {received}")


class StorageFull(DomainError):
    """A store (blob store, upload area, database) is out of space; nothing half
    written was kept. ``upload_size``: what the upload being written still holds,
    where there is one."""

    default_message = "the registry's storage is full; nothing was stored, try again once space is freed"

    def __init__(self, message: str | None = None, *, upload_size: int | None = None) -> None:
        self.upload_size = upload_size
        super().__init__(message)


class DigestMismatch(DomainError):
    """The content (``what``: a blob, a manifest) has digest ``actual``, not the
    ``expected`` one the client gave."""

    def __init__(self, *, expected: str, actual: str, what: str) -> None:
        self.expected = expected
        self.actual = actual
        self.what = what
        super().__init__(f"the {what}'s digest is {actual}, not {expected}")


# -- manifests ----------------------------------------------------------------------


class ManifestInvalid(DomainError):
    """The manifest is not one the registry stores or serves; ``digest``: the
    descriptor the message is about, when it names one the client can look up."""

    default_message = "manifest invalid"

    def __init__(self, message: str | None = None, *, digest: str = "") -> None:
        self.digest = digest
        super().__init__(message)


class ManifestTypeUnsupported(ManifestInvalid):
    """The manifest's ``media_type`` is none of the ``supported`` ones."""

    def __init__(self, media_type: str, supported: list[str]) -> None:
        self.media_type = media_type
        self.supported = supported
        super().__init__(f"unsupported manifest media type {media_type!r}")


class ManifestUnverified(ManifestInvalid):
    """A schema 1 manifest's signature is missing, malformed or does not verify."""

    default_message = "manifest failed signature verification"


class ManifestNameMismatch(ManifestInvalid):
    """A schema 1 manifest names repository ``named``; it was pushed to ``addressed``."""

    def __init__(self, *, named: str, addressed: str) -> None:
        self.named = named
        self.addressed = addressed
        super().__init__(f"the manifest names repository {named!r}, not {addressed!r}")


class ManifestTooLarge(DomainError):
    """The manifest is ``size`` bytes, over the registry's ``limit``."""

    def __init__(self, *, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"manifest is {size} bytes; the limit is {limit}")


class ManifestBlobUnknown(DomainError):
    """The manifest references blob ``digest``, which the repository does not hold."""

    def __init__(self, digest: str, message: str | None = None) -> None:
        self.digest = digest
        super().__init__(message or f"blob {digest} is not in repository")


class ReferencedManifestUnknown(DomainError):
    """The index lists manifest ``digest``, which the repository does not hold."""

    def __init__(self, digest: str) -> None:
        self.digest = digest
        super().__init__(f"manifest {digest} referenced by the index is not in repository")


class ManifestUnknown(DomainError):
    """No manifest with ``digest``, or tagged ``tag``, in the repository."""

    default_message = "manifest unknown"

    def __init__(self, message: str | None = None, *, digest: str = "", tag: str = "") -> None:
        self.digest = digest
        self.tag = tag
        super().__init__(message)


class ManifestNotConvertible(DomainError):
    """The stored manifest (``media_type``) has no form among the ``accepted``
    media types; an index has no entry for the default platform (``platforms``:
    those it has). Each is given where the message is about it."""

    def __init__(
        self,
        message: str,
        *,
        media_type: str | None = None,
        accepted: list[str] | None = None,
        platforms: list[str] | None = None,
    ) -> None:
        self.media_type = media_type
        self.accepted = accepted
        self.platforms = platforms
        super().__init__(message)


class ManifestInUse(DomainError):
    """An index of the repository lists manifest ``digest``."""

    def __init__(self, digest: str) -> None:
        self.digest = digest
        super().__init__(f"manifest {digest} is referenced by an index in this repository; delete the index first")


# -- tags ---------------------------------------------------------------------------


class TagInvalid(DomainError):
    """``tag`` is outside the tag grammar."""

    def __init__(self, tag: str, message: str | None = None) -> None:
        self.tag = tag
        super().__init__(message or f"invalid tag {tag[:200]!r}")


class ManifestTagMismatch(TagInvalid):
    """A schema 1 manifest says it is tagged ``manifest_tag``; it was pushed as ``tag``."""

    def __init__(self, *, tag: str, manifest_tag: str) -> None:
        self.manifest_tag = manifest_tag
        super().__init__(tag, f"the manifest is tagged {manifest_tag!r}, not {tag!r}")


class TagImmutable(DomainError):
    """``tag`` of ``repository`` (account id/name) is immutable and points at
    ``current``; the push would move it to ``pushed``."""

    def __init__(self, *, tag: str, repository: str, current: str, pushed: str) -> None:
        self.tag = tag
        self.repository = repository
        self.current = current
        self.pushed = pushed
        super().__init__(
            f"tag {tag} in repository {repository} is immutable: it points at {current} and cannot be moved to {pushed}"
        )


# -- the pull-through cache ---------------------------------------------------------


class UpstreamUnavailable(DomainError):
    """The upstream registry a pull-through cache rule names (``upstream``) could
    not be reached or refused, and the registry holds nothing to serve instead."""

    def __init__(self, message: str, *, upstream: str) -> None:
        self.upstream = upstream
        super().__init__(message)


class UpstreamFetchBusy(DomainError):
    """Another request is fetching the same content from the upstream and did not
    finish within the wait's bound."""


# -- pull limits --------------------------------------------------------------------


class PullRateExceeded(DomainError):
    """The caller's pulls (anonymous: its address's) are past their limit:
    ``quota`` (apps.registry.limits.Quota) says how far and until when."""

    def __init__(self, quota) -> None:
        self.quota = quota
        super().__init__(
            f"too many pulls: {quota.limit} at once are allowed, then as the limit refills; "
            f"retry in {quota.headers()['Retry-After']} seconds"
        )

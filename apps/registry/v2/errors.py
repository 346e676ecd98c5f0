"""The OCI error envelope: every failure on /v2/ is one of these codes. Handlers
raise RegistryError for refusals of the protocol itself (a malformed header or
query, the version check's challenge); the domain's refusals (apps.kernel.errors)
reach the envelope through OCI_ERRORS. No code outside /v2/ speaks these codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse

from apps.accounts.quotas import QuotaExceeded
from apps.audit import events
from apps.kernel.digests import DigestAlgorithmUnsupported, DigestInvalid
from apps.kernel.errors import DomainError
from apps.kernel.keyring import KeyRingError
from apps.kernel.sealing import SealedValueUnreadable
from apps.repositories.creation_templates import CreationTemplateInvalid
from apps.repositories.services import EncryptionConfigurationInvalid, RepositoryNameInvalid

from .. import exceptions as registry
from ..access import challenge
from ..storage.uploads import range_header

STATUS_BY_CODE = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "MANIFEST_UNVERIFIED": 400,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "SIZE_INVALID": 400,
    "TAG_INVALID": 400,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 415,
    "TOOMANYREQUESTS": 429,
    "UNAVAILABLE": 503,
    "UNKNOWN": 500,
}

DEFAULT_MESSAGES = {
    "BLOB_UNKNOWN": "blob unknown to registry",
    "BLOB_UPLOAD_INVALID": "blob upload invalid",
    "BLOB_UPLOAD_UNKNOWN": "blob upload unknown to registry",
    "DIGEST_INVALID": "provided digest did not match uploaded content",
    "MANIFEST_BLOB_UNKNOWN": "manifest references a blob unknown to the repository",
    "MANIFEST_INVALID": "manifest invalid",
    "MANIFEST_UNKNOWN": "manifest unknown",
    "MANIFEST_UNVERIFIED": "manifest failed signature verification",
    "NAME_INVALID": "invalid repository name",
    "NAME_UNKNOWN": "repository name not known to registry",
    "SIZE_INVALID": "provided length did not match content length",
    "TAG_INVALID": "manifest tag did not match URI",
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "UNSUPPORTED": "the operation is unsupported",
    "TOOMANYREQUESTS": "too many requests",
    "UNAVAILABLE": "service unavailable",
    "UNKNOWN": "unknown error",
}


class RegistryError(Exception):
    """Raised in /v2/ (by a handler, or by the request body it hands a service); response() is the envelope."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        detail: object = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code
        self.message = message or DEFAULT_MESSAGES[code]
        self.detail = detail
        self.status = status or STATUS_BY_CODE[code]
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")

    def response(self, *, head: bool = False) -> HttpResponse:
        error = {"code": self.code, "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        body = json.dumps({"errors": [error]}).encode()
        response = HttpResponse(b"" if head else body, status=self.status, content_type="application/json")
        response["Content-Length"] = str(len(body))
        for name, value in self.headers.items():
            response[name] = value
        return response


@dataclass(frozen=True)
class OciError:
    """How /v2/ says a domain error: its code and status, and what of the error's
    data the envelope carries (``detail``, ``headers``, both given the error; the
    headers the request too). The message is the error's own unless ``message``
    replaces it with the spec's."""

    code: str
    status: int
    detail: Callable[[Any], object] | None = None
    headers: Callable[[Any, HttpRequest], dict[str, str]] | None = None
    message: str | None = None
    # The audit trail's errorCode, where the response's status would say it wrongly
    # (the trail says AccessDenied for every 403: a quota is no policy's refusal).
    trail_code: str | None = None


def _required_access(error: registry.TokenRequired) -> list[dict] | None:
    """What the token must grant, as distribution's challenge detail lists it."""
    if not error.repository:
        return None
    return [{"Type": "repository", "Name": error.repository, "Action": error.scope_action}]


def _manifest_id(error: registry.ManifestUnknown) -> dict | None:
    if error.digest:
        return {"digest": error.digest}
    return {"tag": error.tag} if error.tag else None


def _conversion_refused(error: registry.ManifestNotConvertible) -> dict | None:
    detail = {}
    if error.media_type is not None:
        detail["mediaType"] = error.media_type
    if error.accepted is not None:
        detail["accepted"] = error.accepted[:20]
    if error.platforms is not None:
        detail["platforms"] = error.platforms
    return detail or None


# The domain's refusals in the OCI envelope. An error whose class is not listed is
# said as its nearest listed base class.
OCI_ERRORS: dict[type[DomainError], OciError] = {
    DigestInvalid: OciError("DIGEST_INVALID", 400),
    DigestAlgorithmUnsupported: OciError("UNSUPPORTED", 400),
    registry.TokenRequired: OciError(
        "UNAUTHORIZED",
        401,
        detail=_required_access,
        headers=lambda error, request: challenge(
            request, scope=error.scope, error="insufficient_scope" if error.token_sent else None
        ),
    ),
    registry.TokenInvalid: OciError(
        "UNAUTHORIZED", 401, headers=lambda error, request: challenge(request, error="invalid_token")
    ),
    registry.ActionDenied: OciError("DENIED", 403),
    registry.RepositoryUnknown: OciError("NAME_UNKNOWN", 404),
    RepositoryNameInvalid: OciError("NAME_INVALID", 400),
    registry.DigestMismatch: OciError(
        "DIGEST_INVALID",
        400,
        detail=lambda error: {"expected": error.expected, "actual": error.actual},
        message=DEFAULT_MESSAGES["DIGEST_INVALID"],
    ),
    # The blob may still be read; deleting it is what is refused.
    registry.BlobInUse: OciError(
        "DENIED",
        405,
        detail=lambda error: {"digest": error.digest, "manifests": error.manifests},
        headers=lambda error, request: {"Allow": "GET, HEAD"},
    ),
    registry.BlobUploadUnknown: OciError(
        "BLOB_UPLOAD_UNKNOWN", 404, detail=lambda error: {"uuid": str(error.upload_id)[:64]}
    ),
    registry.BlobUploadBusy: OciError("BLOB_UPLOAD_INVALID", 409),
    registry.UploadOffsetMismatch: OciError(
        "BLOB_UPLOAD_INVALID", 416, headers=lambda error, request: {"Range": range_header(error.size)}
    ),
    registry.ChunkIncomplete: OciError("SIZE_INVALID", 400),
    # 507 Insufficient Storage, the status HTTP has for it (RFC 4918), so that even a
    # client that ignores the body says why; the spec's codes have none for it, and
    # UNKNOWN is what clients are told to make of any code they do not know (and
    # what distribution answers for storage errors).
    registry.StorageFull: OciError(
        "UNKNOWN",
        507,
        headers=lambda error, request: {} if error.upload_size is None else {"Range": range_header(error.upload_size)},
    ),
    registry.ManifestInvalid: OciError(
        "MANIFEST_INVALID", 400, detail=lambda error: {"digest": error.digest} if error.digest else None
    ),
    registry.ManifestTypeUnsupported: OciError(
        "MANIFEST_INVALID", 400, detail=lambda error: {"supported": error.supported}
    ),
    registry.ManifestUnverified: OciError("MANIFEST_UNVERIFIED", 400),
    registry.ManifestNameMismatch: OciError("NAME_INVALID", 400),
    registry.ManifestTooLarge: OciError("SIZE_INVALID", 413),
    registry.ManifestBlobUnknown: OciError("MANIFEST_BLOB_UNKNOWN", 400, detail=lambda error: {"digest": error.digest}),
    registry.ReferencedManifestUnknown: OciError(
        "MANIFEST_BLOB_UNKNOWN", 400, detail=lambda error: {"digest": error.digest}
    ),
    registry.ManifestUnknown: OciError("MANIFEST_UNKNOWN", 404, detail=_manifest_id),
    # A pull the stored manifest cannot serve in any accepted form: not there, as
    # far as that client is concerned.
    registry.ManifestNotConvertible: OciError("MANIFEST_UNKNOWN", 404, detail=_conversion_refused),
    registry.ManifestInUse: OciError("DENIED", 409),
    registry.TagInvalid: OciError("TAG_INVALID", 400),
    registry.TagImmutable: OciError(
        "TAG_INVALID", 400, detail=lambda error: {"tag": error.tag, "repository": error.repository}
    ),
    # distribution's code for a service that cannot answer now (errcode.ErrorCodeUnavailable);
    # the spec lets a registry use codes beyond its own, and clients retry a 503.
    registry.UpstreamUnavailable: OciError("UNAVAILABLE", 503, detail=lambda error: {"upstream": error.upstream}),
    # A pull-through cache rule's upstream password that no sealing key opens.
    SealedValueUnreadable: OciError("UNAVAILABLE", 503),
    # A first pull through the cache whose creation template's repository policy no
    # longer holds: the repository is not created, and the owner must mend the template.
    CreationTemplateInvalid: OciError("DENIED", 403),
    # The same for its encryption: its KMS key is no longer in the key ring.
    EncryptionConfigurationInvalid: OciError("DENIED", 403),
    # An encrypted blob whose key (or key version) the key ring no longer holds, or
    # that no configured master key unwraps: as a sealed value no key opens.
    KeyRingError: OciError("UNAVAILABLE", 503),
    registry.UpstreamFetchBusy: OciError("TOOMANYREQUESTS", 429, headers=lambda error, request: {"Retry-After": "5"}),
    # The spec's code for a request the registry refuses to carry out: the message names
    # the quota, its limit and the current figure, which clients print.
    QuotaExceeded: OciError(
        "DENIED",
        403,
        detail=lambda error: {"quota": error.quota, "limit": error.limit, "current": error.current},
        trail_code="LimitExceededException",  # as the AWS API answers it
    ),
    registry.PullRateExceeded: OciError(
        "TOOMANYREQUESTS",
        429,
        detail=lambda error: {"limit": error.quota.limit},
        headers=lambda error, request: error.quota.headers(),
    ),
}


def oci_error_of(error_class: type[DomainError]) -> OciError:
    for cls in error_class.__mro__:
        if cls in OCI_ERRORS:
            return OCI_ERRORS[cls]
    raise LookupError(f"{error_class.__qualname__} has no entry in OCI_ERRORS")


def registry_error(error: DomainError, request: HttpRequest) -> RegistryError:
    """The envelope of a domain error."""
    oci = oci_error_of(type(error))
    draft = events.current(request) if oci.trail_code else None
    if draft is not None:
        draft.error_code, draft.error_message = oci.trail_code, error.message
    return RegistryError(
        oci.code,
        oci.message or error.message,
        status=oci.status,
        detail=oci.detail(error) if oci.detail else None,
        headers=oci.headers(error, request) if oci.headers else None,
    )


def host_refused(request: HttpRequest, message: str) -> HttpResponse:
    """The registry's answer to a request whose Host header this server does not
    answer to (Django's DisallowedHost, registry_project.errors.bad_request)."""
    return RegistryError("DENIED", message, status=400).response(head=request.method == "HEAD")

"""Plumbing every /v2/ handler shares: error envelope, protocol headers, bodies."""

from __future__ import annotations

import functools
import logging
import re

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from apps.kernel.digests import is_digest, parse_digest
from apps.kernel.errors import DomainError
from apps.repositories import selectors as repository_selectors

from ..access import pull_quota_headers
from ..exceptions import StorageFull
from ..services import validate_tag
from ..storage.space import out_of_space
from .bodies import ChunkedBody, fast_body
from .errors import RegistryError, registry_error

logger = logging.getLogger(__name__)

API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")


def check_name(full_name: str) -> None:
    """NAME_INVALID for a repository name outside the grammar, which the message
    does not repeat: such a name (a quote, a line break, a NUL) must reach no
    header, query, audit event or message."""
    if not repository_selectors.is_address(full_name):
        raise RegistryError("NAME_INVALID", f"invalid repository name: {repository_selectors.ADDRESS_GRAMMAR}")


def _check_reference(reference: str) -> None:
    if is_digest(reference):
        parse_digest(reference)
    else:
        validate_tag(reference)


# The parts of /v2/ paths, each checked against its grammar before the handler runs.
_PATH_PART_CHECKS = {"name": check_name, "reference": _check_reference, "digest": parse_digest}


def registry_endpoint(*methods: str):
    """Route a /v2/ view by method, check the path's parts, and turn RegistryError
    and the domain's errors into the OCI envelope."""
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def handle(request, *args, **kwargs):
            try:
                if request.method not in allowed:
                    raise RegistryError(
                        "UNSUPPORTED",
                        f"{request.method} is not supported here",
                        status=405,
                        headers={"Allow": ", ".join(sorted(allowed))},
                    )
                for part, value in kwargs.items():
                    if part in _PATH_PART_CHECKS:
                        _PATH_PART_CHECKS[part](value)
                response = view(request, *args, **kwargs)
            except RegistryError as exc:
                response = exc.response(head=request.method == "HEAD")
            except DomainError as exc:
                response = registry_error(exc, request).response(head=request.method == "HEAD")
            except Exception as exc:
                # A store that filled up where no service expected it (the database,
                # an upload's first byte): the envelope, not an HTML 500.
                if not out_of_space(exc):
                    raise
                logger.error("storage full: %s %s: %s", request.method, request.path, exc)
                response = registry_error(StorageFull(), request).response(head=request.method == "HEAD")
            response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
            quota_headers = pull_quota_headers(request)
            if quota_headers is not None:
                for header, value in quota_headers.items():
                    response[header] = value
            return response

        return handle

    return decorate


def empty_response(status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(b"", status=status)
    response["Content-Length"] = "0"
    del response["Content-Type"]
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def json_response(body: bytes, *, content_type: str, status: int = 200, head: bool = False) -> HttpResponse:
    response = HttpResponse(b"" if head else body, status=status, content_type=content_type)
    response["Content-Length"] = str(len(body))
    return response


def absolute(path: str) -> str:
    """Locations are relative unless a public URL is configured."""
    return f"{settings.BERTH_PUBLIC_URL}{path}" if settings.BERTH_PUBLIC_URL else path


def request_body_stream(request, *, invalid: str = "BLOB_UPLOAD_INVALID"):
    """The request body as (stream, length); a chunked body has no length. Reading
    the stream raises RegistryError(``invalid``) when the client fails to send it
    (cut off, malformed chunks, too slow).

    Chunked is the one transfer coding Berth decodes: a body in any other (gzip,
    deflate, ...) is refused with 501, which RFC 9112 section 6.1 gives a server
    for a transfer coding it does not implement (415 is for content codings),
    and gunicorn gives for codings it does not know."""
    codings = [coding.strip().lower() for coding in request.META.get("HTTP_TRANSFER_ENCODING", "").split(",")]
    if codings != [""] and codings != ["chunked"]:
        raise RegistryError(
            "UNSUPPORTED",
            f"transfer coding {', '.join(codings)!r} is not supported: send the body chunked or with a Content-Length",
            status=501,
        )
    if codings == ["chunked"]:
        # Django reads no body without a Content-Length: the server's decoded input
        return ChunkedBody(request.META["wsgi.input"], invalid=invalid), None
    length = request.META.get("CONTENT_LENGTH")
    if not length:
        return request, 0
    try:
        size = int(length)
    except ValueError:
        raise RegistryError("SIZE_INVALID", "Content-Length is not a number") from None
    if size < 0:
        raise RegistryError("SIZE_INVALID", "Content-Length is negative")
    return fast_body(request, invalid=invalid) or request, size


def read_limited_body(request, limit: int, *, invalid: str) -> bytes:
    stream, length = request_body_stream(request, invalid=invalid)
    if length is not None and length > limit:
        raise RegistryError("SIZE_INVALID", f"body is {length} bytes; the limit is {limit}", status=413)
    data = stream.read(limit + 1) if length is None else (stream.read(length) if length else b"")
    if len(data) > limit:
        raise RegistryError("SIZE_INVALID", f"body exceeds the limit of {limit} bytes", status=413)
    return data


_INT = re.compile(r"^[0-9]{1,18}$")


def query_int(request, name: str, *, default: int | None, maximum: int | None = None) -> int | None:
    value = request.GET.get(name)
    if value is None or value == "":
        return default
    if not _INT.match(value):
        raise RegistryError("UNSUPPORTED", f"query parameter {name} must be a non-negative integer", status=400)
    number = int(value)
    return min(number, maximum) if maximum is not None else number

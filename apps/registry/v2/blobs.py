"""`/v2/<name>/blobs/<digest>`: fetch (with ranges), check, delete."""

from __future__ import annotations

import logging
import re

from django.http import FileResponse, HttpResponseRedirect, StreamingHttpResponse

from apps.kernel.digests import parse_digest

from .. import selectors, services, traffic, upstream
from ..access import authorize
from ..storage import encryption as storage_encryption
from ..storage import get_blob_store
from ..storage.envelope import BlobTampered
from .base import empty_response, registry_endpoint
from .errors import RegistryError

logger = logging.getLogger(__name__)

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _unsatisfiable(message: str, size: int) -> RegistryError:
    return RegistryError("UNSUPPORTED", message, status=416, headers={"Content-Range": f"bytes */{size}"})


def _byte_range(header: str, size: int) -> tuple[int, int]:
    """(start, end) inclusive for a single-range header."""
    match = _RANGE.fullmatch(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        raise _unsatisfiable(f"unsupported Range {header[:100]!r}", size)
    first, last = match.groups()
    if first:
        start = int(first)
        if start >= size or (last and int(last) < start):
            raise _unsatisfiable(f"range {header[:100]!r} is outside the blob's {size} bytes", size)
        return start, min(int(last), size - 1) if last else size - 1
    suffix = int(last)
    if suffix == 0:
        raise _unsatisfiable("an empty suffix range", size)
    return max(0, size - suffix), size - 1


@registry_endpoint("GET", "DELETE")
def blob(request, name: str, digest: str):
    if request.method == "DELETE":
        return _delete(request, name, digest)
    authorized = authorize(request, name, "ecr:GetDownloadUrlForLayer", layerDigest=digest[:200])
    parse_digest(digest)
    blob = selectors.linked_blob(authorized.repository, digest) or upstream.pending_blob(
        authorized, digest, head=request.method == "HEAD"
    )
    if blob is None:
        raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest})
    headers = {
        "Docker-Content-Digest": blob.digest,
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
        "Cache-Control": "max-age=31536000",
        "ETag": f'"{blob.digest}"',
    }
    if request.method == "HEAD":
        return empty_response(200, headers | {"Content-Length": str(blob.size)})
    if isinstance(blob, upstream.UpstreamBlob):
        # Whole, whatever the Range: the bytes come from the upstream from the first on.
        traffic.served(authorized.repository, anonymous=authorized.caller.is_anonymous, size=blob.size)
        return StreamingHttpResponse(blob.chunks, headers=headers | {"Content-Length": str(blob.size)})

    store = get_blob_store()
    encryption = storage_encryption.of(authorized.repository)
    range_header = request.META.get("HTTP_RANGE")
    byte_range = _byte_range(range_header, blob.size) if range_header and blob.size else None
    if byte_range is None:
        redirect = store.redirect_url(blob.digest, encryption)
        if redirect:
            # The store sends the bytes; they are served to this caller all the same.
            traffic.served(authorized.repository, anonymous=authorized.caller.is_anonymous, size=blob.size)
            response = HttpResponseRedirect(redirect, status=307)
            response["Docker-Content-Digest"] = blob.digest
            return response
        start, end, status = 0, blob.size - 1, 200
    else:
        (start, end), status = byte_range, 206
    try:
        stream = store.open_range(blob.digest, start, end if blob.size else None, encryption)
    except FileNotFoundError:
        raise RegistryError("BLOB_UNKNOWN", "blob content is missing from storage", detail={"digest": digest}) from None
    except BlobTampered as exc:
        # Never served as data: the stored bytes fail authentication.
        logger.error("%s", exc)
        raise RegistryError("BLOB_UNKNOWN", "blob content in storage is damaged", detail={"digest": digest}) from None
    length = end - start + 1 if blob.size else 0
    traffic.served(authorized.repository, anonymous=authorized.caller.is_anonymous, size=length)
    response = FileResponse(stream, status=status)
    # Where sendfile cannot be used (S3 streams, TLS), copy in large blocks, not 4 KiB.
    response.block_size = 1024 * 1024
    del response["Content-Disposition"]
    for name_, value in headers.items():
        response[name_] = value
    response["Content-Length"] = str(length)
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{blob.size}"
    return response


def _delete(request, name: str, digest: str):
    authorized = authorize(request, name, "ecr:BatchDeleteImage", layerDigest=digest[:200])
    parse_digest(digest)
    if not services.unlink_blob(
        repository=authorized.repository, digest=digest, actor=authorized.actor, context=authorized.context
    ):
        raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest})
    return empty_response(202, {"Docker-Content-Digest": digest})

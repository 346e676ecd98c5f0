"""`/v2/<name>/blobs/uploads/`: monolithic, chunked and streamed pushes, and
cross-repository mounts."""

from __future__ import annotations

import re

from apps.kernel.digests import parse_digest

from .. import services
from ..access import authorize, pullable_source
from ..storage.uploads import range_header
from .base import absolute, check_name, empty_response, registry_endpoint, request_body_stream
from .errors import RegistryError

_CONTENT_RANGE = re.compile(r"(?:bytes )?(\d+)-(\d+)(?:/(?:\d+|\*))?")


def _session_headers(name: str, upload) -> dict[str, str]:
    return {
        "Location": absolute(f"/v2/{name}/blobs/uploads/{upload.id}"),
        "Range": range_header(upload.size),
        "Docker-Upload-UUID": str(upload.id),
    }


def _created(name: str, digest: str) -> dict[str, str]:
    return {"Location": absolute(f"/v2/{name}/blobs/{digest}"), "Docker-Content-Digest": digest}


@registry_endpoint("POST")
def start(request, name: str):
    authorized = authorize(request, name, "ecr:InitiateLayerUpload", create=True)
    repository, actor, context = authorized.repository, authorized.actor, authorized.context
    mount, source = request.GET.get("mount"), request.GET.get("from")
    if mount:
        parse_digest(mount)
        if source:
            check_name(source)
        authorized.audit.request_parameters.update(mount=mount, **{"from": source} if source else {})
        source_repository = pullable_source(request, source) if source else None
        if source_repository and services.mount_blob(
            repository=repository, source=source_repository, digest=mount, actor=actor, context=context
        ):
            return empty_response(201, _created(name, mount))
        # Not mountable: the client gets an ordinary upload session instead.
    digest = request.GET.get("digest")
    if digest:
        parse_digest(digest)
        authorized.audit.request_parameters["layerDigest"] = digest
        stream, length = request_body_stream(request)
        blob = services.upload_blob(
            repository=repository, digest=digest, stream=stream, length=length, actor=actor, context=context
        )
        return empty_response(201, _created(name, blob.digest))
    upload = services.start_upload(repository=repository, actor=actor, context=context)
    return empty_response(202, _session_headers(name, upload))


@registry_endpoint("GET", "PATCH", "PUT", "DELETE")
def session(request, name: str, upload_id: str):
    action = "ecr:CompleteLayerUpload" if request.method == "PUT" else "ecr:UploadLayerPart"
    authorized = authorize(request, name, action, uploadId=upload_id[:64])
    actor, context = authorized.actor, authorized.context
    upload = services.get_upload(repository=authorized.repository, upload_id=upload_id)

    if request.method in ("GET", "HEAD"):
        return empty_response(204, _session_headers(name, upload))
    if request.method == "DELETE":
        services.cancel_upload(upload=upload)
        return empty_response(204)
    if request.method == "PATCH":
        part = _part(request, upload)
        if part is not None:
            stream, offset, length = part
            services.append_to_upload(
                upload=upload, stream=stream, offset=offset, length=length, actor=actor, context=context
            )
        return empty_response(202, _session_headers(name, upload))

    digest = request.GET.get("digest")
    if not digest:
        raise RegistryError("DIGEST_INVALID", "the final PUT needs ?digest=")
    parse_digest(digest)
    authorized.audit.request_parameters["layerDigest"] = digest
    stream, offset, length = _part(request, upload) or (None, None, None)
    blob = services.complete_upload(
        upload=upload, digest=digest, actor=actor, context=context, stream=stream, offset=offset, length=length
    )
    return empty_response(201, _created(name, blob.digest))


def _part(request, upload) -> tuple[object, int | None, int | None] | None:
    """The part of the upload the request's body is: (stream, offset, length),
    None for an empty body. The offset is None for a body without a Content-Range
    (it goes at the end), and so is the length of a chunked one."""
    stream, length = request_body_stream(request)
    content_range = request.META.get("HTTP_CONTENT_RANGE")
    offset = None
    if content_range:
        match = _CONTENT_RANGE.fullmatch(content_range.strip())
        if not match:
            raise RegistryError(
                "BLOB_UPLOAD_INVALID",
                f"malformed Content-Range {content_range[:100]!r}",
                status=416,
                headers={"Range": range_header(upload.size)},
            )
        first, last = int(match.group(1)), int(match.group(2))
        if last < first:
            raise RegistryError(
                "BLOB_UPLOAD_INVALID",
                "Content-Range ends before it starts",
                status=416,
                headers={"Range": range_header(upload.size)},
            )
        if length is not None and length != last - first + 1:
            raise RegistryError("SIZE_INVALID", "Content-Length does not match Content-Range")
        if length is None:
            # chunked: the body must end where the range does, or nothing of it is kept
            stream = stream.exactly(last - first + 1)
        offset, length = first, last - first + 1
    if length == 0:
        return None
    return stream, offset, length

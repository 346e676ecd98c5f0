"""`/v2/<name>/manifests/<reference>`: fetch with Accept negotiation, push, delete."""
from __future__ import annotations

from django.conf import settings

from .. import selectors, services
from ..access import authorize
from ..digests import is_digest, parse_digest
from ..errors import RegistryError
from .base import absolute, empty_response, json_response, read_limited_body, registry_endpoint


@registry_endpoint("GET", "PUT", "DELETE")
def manifest(request, name: str, reference: str):
    if request.method == "PUT":
        return _put(request, name, reference)
    if request.method == "DELETE":
        return _delete(request, name, reference)
    return _get(request, name, reference)


def _accepted(request) -> set[str]:
    # Repeated Accept headers reach WSGI joined with commas.
    items = request.META.get("HTTP_ACCEPT", "").split(",")
    return {item.split(";")[0].strip() for item in items if item.split(";")[0].strip()}


def _get(request, name: str, reference: str):
    authorized = authorize(request, name, "ecr:BatchGetImage")
    if is_digest(reference):
        parse_digest(reference)
    head = request.method == "HEAD"
    found = selectors.manifest_by_reference(authorized.repository, reference, with_content=not head)
    if found is None:
        raise RegistryError("MANIFEST_UNKNOWN", detail={"reference": reference[:200]})
    accepted = _accepted(request)
    if accepted and "*/*" not in accepted and found.media_type not in accepted:
        # Like the reference registry: a client that cannot read the stored format
        # is told so rather than handed bytes it will misparse.
        raise RegistryError(
            "MANIFEST_UNKNOWN",
            f"manifest is {found.media_type}, which the Accept header does not allow",
            detail={"mediaType": found.media_type, "accepted": sorted(accepted)[:20]},
        )
    response = json_response(b"" if head else bytes(found.content), content_type=found.media_type, head=head)
    response["Content-Length"] = str(found.size)
    response["Docker-Content-Digest"] = found.digest
    response["ETag"] = f'"{found.digest}"'
    return response


def _put(request, name: str, reference: str):
    authorized = authorize(request, name, "ecr:PutImage", create=True)
    body = read_limited_body(request, settings.BERTH_MAX_MANIFEST_BYTES)
    manifest = services.put_manifest(
        repository=authorized.repository,
        reference=reference,
        body=body,
        content_type=request.META.get("CONTENT_TYPE", ""),
        actor=authorized.principal.username,
    )
    headers = {
        "Location": absolute(f"/v2/{name}/manifests/{manifest.digest}"),
        "Docker-Content-Digest": manifest.digest,
    }
    if manifest.subject_digest:
        headers["OCI-Subject"] = manifest.subject_digest
    return empty_response(201, headers)


def _delete(request, name: str, reference: str):
    authorized = authorize(request, name, "ecr:BatchDeleteImage")
    actor = authorized.principal.username
    if is_digest(reference):
        parse_digest(reference)
        services.delete_manifest(repository=authorized.repository, digest=reference, actor=actor)
    else:
        services.validate_tag(reference)
        services.delete_tag(repository=authorized.repository, tag=reference, actor=actor)
    return empty_response(202)


"""`/v2/<name>/manifests/<reference>`: fetch with Accept negotiation, push, delete."""

from __future__ import annotations

from django.conf import settings

from apps.kernel.digests import is_digest

from .. import negotiation, services, traffic, upstream
from ..access import authorize
from .base import absolute, empty_response, json_response, read_limited_body, registry_endpoint


@registry_endpoint("GET", "PUT", "DELETE")
def manifest(request, name: str, reference: str):
    if request.method == "PUT":
        return _put(request, name, reference)
    if request.method == "DELETE":
        return _delete(request, name, reference)
    return _get(request, name, reference)


def _get(request, name: str, reference: str):
    authorized = authorize(request, name, "ecr:BatchGetImage", **_image_parameters(request, reference))
    head = request.method == "HEAD"
    upstream.prepare_manifest(request, authorized, reference)
    served = negotiation.served_manifest(
        repository=authorized.repository,
        name=name,
        reference=reference,
        accepted=negotiation.parse_accept(request.META.get("HTTP_ACCEPT", "")),
        head=head,
    )
    authorized.audit.response_elements.update(imageDigest=served.digest, imageManifestMediaType=served.media_type)
    if not head:
        if served.manifest_id is not None:
            services.record_pull(manifest_id=served.manifest_id)
        traffic.served(authorized.repository, anonymous=authorized.caller.is_anonymous, size=served.size)
    response = json_response(b"" if head else served.content, content_type=served.media_type, head=head)
    response["Content-Length"] = str(served.size)
    response["Docker-Content-Digest"] = served.digest
    response["ETag"] = f'"{served.digest}"'
    return response


def _put(request, name: str, reference: str):
    authorized = authorize(request, name, "ecr:PutImage", create=True, **_image_parameters(request, reference))
    body = read_limited_body(request, settings.BERTH_MAX_MANIFEST_BYTES, invalid="MANIFEST_INVALID")
    manifest = services.put_manifest(
        repository=authorized.repository,
        name=name,
        reference=reference,
        body=body,
        content_type=request.META.get("CONTENT_TYPE", ""),
        actor=authorized.actor,
        context=authorized.context,
    )
    headers = {
        "Location": absolute(f"/v2/{name}/manifests/{manifest.digest}"),
        "Docker-Content-Digest": manifest.digest,
    }
    if manifest.subject_digest:
        headers["OCI-Subject"] = manifest.subject_digest
    return empty_response(201, headers)


def _delete(request, name: str, reference: str):
    authorized = authorize(request, name, "ecr:BatchDeleteImage", **_image_parameters(request, reference))
    repository, actor, context = authorized.repository, authorized.actor, authorized.context
    if is_digest(reference):
        services.delete_manifest(repository=repository, digest=reference, actor=actor, context=context)
    else:
        services.delete_tag(repository=repository, tag=reference, actor=actor, context=context)
    return empty_response(202)


def _image_parameters(request, reference: str) -> dict[str, str]:
    """Which image the request is about, as ECR's trail names it."""
    parameters = {"imageDigest" if ":" in reference else "imageTag": reference[:300]}
    if request.method in ("GET", "HEAD"):
        # A HEAD only checks: pull counts leave it out.
        parameters["httpMethod"] = request.method
        parameters["acceptedMediaTypes"] = request.META.get("HTTP_ACCEPT", "")[:1024]
    elif request.method == "PUT":
        parameters["imageManifestMediaType"] = request.META.get("CONTENT_TYPE", "")[:255]
    return parameters

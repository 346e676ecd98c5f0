"""`/v2/<name>/referrers/<digest>`: manifests whose subject is the digest."""
from __future__ import annotations

from .. import negotiation
from ..access import authorize
from ..content import media_types as mt
from ..digests import parse_digest
from .base import json_response, registry_endpoint


@registry_endpoint("GET")
def referrers(request, name: str, digest: str):
    authorized = authorize(request, name, "ecr:BatchGetImage")
    parse_digest(digest)
    artifact_type = request.GET.get("artifactType") or None
    body = negotiation.referrers_index(authorized.repository, digest, artifact_type=artifact_type)
    response = json_response(body, content_type=mt.OCI_INDEX, head=request.method == "HEAD")
    if artifact_type:
        response["OCI-Filters-Applied"] = "artifactType"
    return response

"""`/v2/<name>/referrers/<digest>`: manifests whose subject is the digest."""
from __future__ import annotations

from .. import negotiation
from ..access import authorize
from ..content import media_types as mt
from ..content.manifests import MEDIA_TYPE_GRAMMAR
from ..errors import RegistryError
from ..digests import parse_digest
from .base import json_response, registry_endpoint


@registry_endpoint("GET")
def referrers(request, name: str, digest: str):
    authorized = authorize(request, name, "ecr:BatchGetImage")
    parse_digest(digest)
    artifact_type = request.GET.get("artifactType") or None
    if artifact_type is not None and not MEDIA_TYPE_GRAMMAR.fullmatch(artifact_type):
        raise RegistryError("UNSUPPORTED", "the artifactType filter must be a media type", status=400)
    body = negotiation.referrers_index(authorized.repository, digest, artifact_type=artifact_type)
    response = json_response(body, content_type=mt.OCI_INDEX, head=request.method == "HEAD")
    if artifact_type:
        response["OCI-Filters-Applied"] = "artifactType"
    return response

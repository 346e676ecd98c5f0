"""`/v2/<name>/referrers/<digest>`: manifests whose subject is the digest."""

from __future__ import annotations

from .. import negotiation
from ..access import authorize
from ..content import media_types as mt
from ..content.manifests import MEDIA_TYPE_GRAMMAR
from ..exceptions import RepositoryUnknown
from .base import json_response, registry_endpoint
from .errors import RegistryError


@registry_endpoint("GET")
def referrers(request, name: str, digest: str):
    try:
        repository = authorize(request, name, "ecr:BatchGetImage").repository
    except RepositoryUnknown:
        # authorize says so only to a member whose policies let it read the
        # repository it addressed, were it there. A registry with the referrers
        # API must not answer 404 here (a client would fall back to the tag scheme
        # and push sha256-<hex> tags): the repository has no referrers yet.
        repository = None
    artifact_type = request.GET.get("artifactType") or None
    if artifact_type is not None and not MEDIA_TYPE_GRAMMAR.fullmatch(artifact_type):
        raise RegistryError("UNSUPPORTED", "the artifactType filter must be a media type", status=400)
    body = negotiation.referrers_index(repository, digest, artifact_type=artifact_type)
    response = json_response(body, content_type=mt.OCI_INDEX, head=request.method == "HEAD")
    if artifact_type:
        response["OCI-Filters-Applied"] = "artifactType"
    return response

"""`/v2/<name>/referrers/<digest>`: manifests whose subject is the digest."""
from __future__ import annotations

import json

from .. import selectors
from ..access import authorize
from ..content import media_types as mt
from ..digests import parse_digest
from .base import json_response, registry_endpoint


@registry_endpoint("GET")
def referrers(request, name: str, digest: str):
    authorized = authorize(request, name, "ecr:BatchGetImage")
    parse_digest(digest)
    artifact_type = request.GET.get("artifactType") or None
    descriptors = []
    for manifest in selectors.referrers(authorized.repository, digest, artifact_type=artifact_type):
        descriptor = {"mediaType": manifest.media_type, "digest": manifest.digest, "size": manifest.size}
        artifact = manifest.artifact_type or manifest.config_media_type
        if artifact:
            descriptor["artifactType"] = artifact
        if manifest.annotations:
            descriptor["annotations"] = manifest.annotations
        descriptors.append(descriptor)
    body = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": descriptors}).encode()
    response = json_response(body, content_type=mt.OCI_INDEX, head=request.method == "HEAD")
    if artifact_type:
        response["OCI-Filters-Applied"] = "artifactType"
    return response

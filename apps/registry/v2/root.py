"""`/v2/`: the version check clients use to discover how to authenticate."""

from ..access import challenge, request_claims
from .base import json_response, registry_endpoint
from .errors import RegistryError


@registry_endpoint("GET")
def api_root(request):
    if request_claims(request) is None:
        raise RegistryError("UNAUTHORIZED", headers=challenge(request))
    return json_response(b"{}", content_type="application/json", head=request.method == "HEAD")


@registry_endpoint("GET", "POST", "PUT", "PATCH", "DELETE")
def unknown_endpoint(request, path: str):
    raise RegistryError("UNSUPPORTED", f"no registry endpoint at /v2/{path[:200]}", status=404)

"""`/v2/_catalog`: the repositories the caller may pull, paginated."""
from __future__ import annotations

import json
from urllib.parse import urlencode

from .. import selectors
from ..access import challenge, principal_of, request_claims
from ..errors import RegistryError
from .base import json_response, query_int, registry_endpoint

DEFAULT_PAGE = 100
MAX_PAGE = 1000


@registry_endpoint("GET")
def catalog(request):
    claims = request_claims(request)
    if claims is None or not claims.allows("registry", "catalog", "*"):
        raise RegistryError(
            "UNAUTHORIZED",
            headers=challenge(
                request, scope="registry:catalog:*", error="insufficient_scope" if claims is not None else None
            ),
        )
    limit = query_int(request, "n", default=DEFAULT_PAGE, maximum=MAX_PAGE)
    last = request.GET.get("last") or None
    names = selectors.catalog(principal_of(claims), limit=limit + 1, after=last)
    more = len(names) > limit
    names = names[:limit]
    body = json.dumps({"repositories": names}).encode()
    response = json_response(body, content_type="application/json", head=request.method == "HEAD")
    if more and names:
        response["Link"] = f'</v2/_catalog?{urlencode({"n": limit, "last": names[-1]})}>; rel="next"'
    return response

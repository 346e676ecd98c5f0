"""`/v2/_catalog`: the repositories the caller may describe, paginated."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from apps.audit import events

from .. import selectors
from ..access import challenge, request_claims
from .base import check_name, json_response, query_int, registry_endpoint
from .errors import RegistryError

DEFAULT_PAGE = 100
MAX_PAGE = 1000


@registry_endpoint("GET")
def catalog(request):
    claims = request_claims(request)

    def refusal() -> RegistryError:
        return RegistryError(
            "UNAUTHORIZED",
            headers=challenge(
                request, scope="registry:catalog:*", error="insufficient_scope" if claims is not None else None
            ),
        )

    if claims is None:
        raise refusal()
    draft = events.begin(request, event_name="DescribeRepositories", actor=claims.caller.actor(), read_only=True)
    if not claims.allows("registry", "catalog", "*"):
        draft.refuse("the token does not grant registry:catalog:*")
        raise refusal()
    limit = query_int(request, "n", default=DEFAULT_PAGE, maximum=MAX_PAGE)
    last = request.GET.get("last") or None
    if last is not None:
        check_name(last)  # the last repository of the page before
    names = selectors.catalog(claims.caller, limit=limit + 1, after=last, request=request)
    more = len(names) > limit
    names = names[:limit]
    body = json.dumps({"repositories": names}).encode()
    response = json_response(body, content_type="application/json", head=request.method == "HEAD")
    if more and names:
        response["Link"] = f'</v2/_catalog?{urlencode({"n": limit, "last": names[-1]})}>; rel="next"'
    return response

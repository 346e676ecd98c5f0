"""`/v2/<name>/tags/list`: tags in lexical order, paginated with `n`, `last` and Link."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from .. import selectors
from ..access import authorize
from ..services import validate_tag
from .base import json_response, query_int, registry_endpoint


@registry_endpoint("GET")
def tag_list(request, name: str):
    authorized = authorize(request, name, "ecr:ListImages")
    limit = query_int(request, "n", default=None)
    last = request.GET.get("last") or None
    if last is not None:
        validate_tag(last)  # the last tag of the page before
    names = selectors.tag_names(authorized.repository, limit=None if limit is None else limit + 1, after=last)
    more = limit is not None and len(names) > limit
    if more:
        names = names[:limit]
    body = json.dumps({"name": name, "tags": names}).encode()
    response = json_response(body, content_type="application/json", head=request.method == "HEAD")
    if more and names:
        query = urlencode({"n": limit, "last": names[-1]})
        response["Link"] = f'</v2/{name}/tags/list?{query}>; rel="next"'
    return response

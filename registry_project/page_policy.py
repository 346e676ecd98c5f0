"""The Content-Security-Policy (django-csp) on every response but the registry's.

/v2/ and /token answer registry clients, never browsers, with JSON and blobs, and
they are the hot paths: django-csp builds the policy afresh for every response, at
a cost of several per cent of a registry request, so they skip it."""

from __future__ import annotations

from csp.middleware import CSPMiddleware
from django.http import HttpRequest, HttpResponseBase


def is_registry_path(path: str) -> bool:
    return path in ("/v2", "/token") or path.startswith("/v2/")


class PagePolicyMiddleware(CSPMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if not is_registry_path(request.path_info):
            super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if is_registry_path(request.path_info):
            return response
        return super().process_response(request, response)

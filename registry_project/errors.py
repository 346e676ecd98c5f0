"""Responses for requests Django refuses before any view runs."""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.views import defaults

from apps.registry.v2.errors import host_refused


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400. A Host header outside ALLOWED_HOSTS gets a 400 that says so, in
    the shape of the surface it was sent to: the OCI error envelope on the registry,
    the management API's error body on /api/, plain text elsewhere."""
    if not isinstance(exception, DisallowedHost):
        return defaults.bad_request(request, exception)
    message = f"this server does not answer to the host {request.META.get('HTTP_HOST', '')!r}; use its public address"
    if request.path in ("/v2", "/token") or request.path.startswith("/v2/"):
        return host_refused(request, message)
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "disallowed_host", "detail": message}, status=400)
    return HttpResponseBadRequest(f"Bad Request (400): {message}\n", content_type="text/plain; charset=utf-8")

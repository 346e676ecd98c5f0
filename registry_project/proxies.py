"""The scheme a request came in with, behind a TLS-terminating proxy.

A proxy of BERTH_TRUSTED_PROXIES that says `X-Forwarded-Proto: https` makes the
request https for everything after this middleware: `request.is_secure()` (HSTS,
the SSL redirect, CSRF's origin checks, `aws:SecureTransport`),
`build_absolute_uri()` and the token realm. From any other peer the header is
ignored, so a client talking to Berth directly cannot claim TLS it does not have.
(`berth serve` tells gunicorn to believe no proxy itself: the WSGI scheme is the
transport's own until this middleware says otherwise.) Django's
SECURE_PROXY_SSL_HEADER is no substitute: it believes the header from anyone."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from apps.kernel.requests import is_trusted, parse_address

SCHEMES = ("http", "https")


def forwarded_scheme(remote_addr: str, forwarded_proto: str) -> str | None:
    """The scheme ``forwarded_proto`` (X-Forwarded-Proto) reports, if the peer
    ``remote_addr`` is a trusted proxy and the value is one; else None. Of a list
    (proxies that append), the last entry: the one the trusted peer wrote."""
    if not forwarded_proto or not settings.BERTH_TRUSTED_PROXIES:
        return None
    if not is_trusted(parse_address(remote_addr)):
        return None
    scheme = forwarded_proto.rsplit(",", 1)[-1].strip().lower()
    return scheme if scheme in SCHEMES else None


class ForwardedSchemeMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        scheme = forwarded_scheme(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_PROTO", ""))
        if scheme is not None:
            # Django's WSGIRequest reads its scheme from the WSGI environ on every use.
            request.environ["wsgi.url_scheme"] = scheme
        return self.get_response(request)

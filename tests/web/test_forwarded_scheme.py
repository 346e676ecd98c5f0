"""Behind a TLS proxy: the scheme a trusted proxy reports makes the request https
(token realm, absolute URLs, HSTS, the SSL redirect); any other client's claim is
ignored."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from registry_project.proxies import ForwardedSchemeMiddleware, forwarded_scheme

PROXY = "10.0.0.5"
CLIENT = "203.0.113.9"
HOST = "registry.example.com"

pytestmark = pytest.mark.django_db


@pytest.fixture
def behind_proxy(settings):
    settings.BERTH_TRUSTED_PROXIES = "10.0.0.0/8"
    settings.BERTH_PUBLIC_URL = ""
    settings.ALLOWED_HOSTS = [HOST]


def realm(response) -> str:
    return response["WWW-Authenticate"].split('realm="', 1)[1].split('"', 1)[0]


def test_only_a_trusted_proxy_reports_the_scheme(behind_proxy, settings):
    assert forwarded_scheme(PROXY, "https") == "https"
    assert forwarded_scheme(PROXY, "HTTPS") == "https"
    assert forwarded_scheme(f"::ffff:{PROXY}", "https") == "https"
    assert forwarded_scheme(PROXY, "http") == "http"
    # proxies that append: the last entry is the trusted peer's own
    assert forwarded_scheme(PROXY, "https, http") == "http"
    assert forwarded_scheme(PROXY, "gopher") is None
    assert forwarded_scheme(PROXY, "") is None
    assert forwarded_scheme(CLIENT, "https") is None
    settings.BERTH_TRUSTED_PROXIES = ""
    assert forwarded_scheme(PROXY, "https") is None


def test_the_request_is_secure_and_its_absolute_urls_https_only_through_the_proxy(behind_proxy):
    seen = {}

    def view(request):
        seen["secure"], seen["url"] = request.is_secure(), request.build_absolute_uri("/v2/")
        return None

    factory = RequestFactory(HTTP_HOST=HOST)
    ForwardedSchemeMiddleware(view)(factory.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO="https"))
    assert seen == {"secure": True, "url": f"https://{HOST}/v2/"}
    ForwardedSchemeMiddleware(view)(factory.get("/", REMOTE_ADDR=CLIENT, HTTP_X_FORWARDED_PROTO="https"))
    assert seen == {"secure": False, "url": f"http://{HOST}/v2/"}


def test_the_token_realm_says_https_behind_the_proxy(behind_proxy):
    through_proxy = Client(HTTP_HOST=HOST, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO="https").get("/v2/")
    direct_claim = Client(HTTP_HOST=HOST, REMOTE_ADDR=CLIENT, HTTP_X_FORWARDED_PROTO="https").get("/v2/")

    assert realm(through_proxy) == f"https://{HOST}/token"
    assert realm(direct_claim) == f"http://{HOST}/token"


def test_hsts_is_sent_over_https_only(behind_proxy, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    through_proxy = Client(HTTP_HOST=HOST, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO="https").get("/")
    direct_claim = Client(HTTP_HOST=HOST, REMOTE_ADDR=CLIENT, HTTP_X_FORWARDED_PROTO="https").get("/")

    assert through_proxy["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in direct_claim


def test_the_ssl_redirect_follows_the_proxy(behind_proxy, settings):
    settings.SECURE_SSL_REDIRECT = True
    plain = Client(HTTP_HOST=HOST, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO="http").get("/search?q=x")
    secure = Client(HTTP_HOST=HOST, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO="https").get("/search?q=x")
    direct_claim = Client(HTTP_HOST=HOST, REMOTE_ADDR=CLIENT, HTTP_X_FORWARDED_PROTO="https").get("/search?q=x")

    assert (plain.status_code, plain["Location"]) == (301, f"https://{HOST}/search?q=x")
    assert secure.status_code == 200
    assert direct_claim.status_code == 301

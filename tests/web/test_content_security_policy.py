"""Every HTML page carries a strict Content-Security-Policy and SecurityMiddleware's
headers, and no page or template holds inline script, event handlers or inline style."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts.models import Alias

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
TEMPLATE_DIRS = [ROOT / "templates", *sorted(ROOT.glob("apps/*/templates"))]


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


class _InlineCode(HTMLParser):
    """What a strict policy refuses: <script> without src, on* handlers, <style>, style=."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs) -> None:
        attributes = dict(attrs)
        if tag == "script":
            # A JSON data block (type="application/json") is not run; anything else without src is.
            self._in_script = "src" not in attributes and attributes.get("type") != "application/json"
        if tag == "style":
            self.found.append("<style>")
        for name in attributes:
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}=>")

    def handle_data(self, data) -> None:
        if self._in_script and data.strip():
            self.found.append(f"<script>{data.strip()[:60]}")

    def handle_endtag(self, tag) -> None:
        if tag == "script":
            self._in_script = False


def inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    return parser.found


def test_no_template_holds_inline_script_handlers_or_style():
    templates = [path for directory in TEMPLATE_DIRS for path in directory.rglob("*.html")]
    assert len(templates) > 20
    offending = {str(path.relative_to(ROOT)): found for path in templates if (found := inline_code(path.read_text()))}
    assert offending == {}


def test_the_scan_catches_what_the_policy_refuses():
    assert inline_code('<script src="/static/a.js"></script><script type="application/json">{}</script>') == []
    assert inline_code("<script>alert(1)</script>") == ["<script>alert(1)"]
    assert inline_code('<button onclick="go()">') == ["<button onclick=>"]
    assert inline_code('<p style="color: red">') == ["<p style=>"]
    assert inline_code("<style>p {}</style>") == ["<style>"]


@pytest.fixture
def site(make_tenant, publish, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    tenant = make_tenant("acme")
    account = tenant.account
    alias = Alias.objects.get(account=account).name
    publish(account, "tools/cli", description="A tool", about="| a | b |\n|--:|:-:|\n| 1 | 2 |")
    staff = get_user_model().objects.create_superuser(username="operator", password="pw", email="op@example.com")
    anonymous, signed_in, operator = Client(), Client(), Client()
    signed_in.force_login(get_user_model().objects.get(username=tenant.username))
    operator.force_login(staff)
    return {"alias": alias, "anonymous": anonymous, "signed_in": signed_in, "operator": operator}


PAGES = [
    ("anonymous", "/"),
    ("anonymous", "/search?q=cli"),
    ("anonymous", "/{alias}"),
    ("anonymous", "/{alias}/tools/cli"),
    ("anonymous", "/no-such-publisher"),
    ("anonymous", "/accounts/login"),
    ("anonymous", "/accounts/signup"),
    ("anonymous", "/accounts/password-reset"),
    ("signed_in", "/accounts/settings"),
    ("anonymous", "/admin/login/"),
    ("operator", "/admin/"),
    ("operator", "/admin/accounts/account/"),
    ("operator", "/admin/accounts/aliasrequest/"),
    ("anonymous", "/api/docs/"),
]


@pytest.mark.parametrize(("who", "path"), PAGES)
def test_every_page_sends_a_strict_policy_and_holds_no_inline_code(site, who, path):
    response = site[who].get(path.format(alias=site["alias"]))
    assert response.status_code in (200, 404), response.status_code
    assert response["Content-Type"].startswith("text/html")

    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == policy["frame-ancestors"] == policy["base-uri"] == ["'none'"]
    assert set(policy["img-src"]) <= {"'self'", "data:", "https:"}
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    body = response.content.decode()
    found = inline_code(body)
    if path == "/{alias}/tools/cli":
        # the Markdown table's alignment, the one style the sanitizer keeps and this page allows
        assert found and set(found) <= {"<th style=>", "<td style=>"}
        assert policy["style-src-attr"] == ["'unsafe-inline'"]
        assert "https:" in policy["img-src"]
    else:
        assert found == []
        assert "style-src-attr" not in policy and "https:" not in policy["img-src"]


def test_swagger_ui_loads_its_start_up_script_as_a_file(site):
    page = site["anonymous"].get("/api/docs/")
    scripts = re.findall(r'<script src="([^"]+)"', page.content.decode())
    assert any(src.startswith("/api/docs/?") and "script" in src for src in scripts), scripts

    start_up = site["anonymous"].get("/api/docs/?script=")
    assert start_up.status_code == 200
    assert start_up["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in start_up.content.decode()


def test_registry_and_api_json_answers_are_unchanged(site):
    registry = site["anonymous"].get("/v2/")
    assert registry.status_code == 401 and "WWW-Authenticate" in registry
    assert registry.json()["errors"][0]["code"] == "UNAUTHORIZED"
    api = site["anonymous"].get("/api/v1/repositories")
    assert api.status_code in (401, 403) and "code" in api.json()


def test_registry_paths_skip_the_policy_and_pages_that_look_alike_do_not(site):
    assert "Content-Security-Policy" not in site["anonymous"].get("/v2/")
    assert "Content-Security-Policy" not in site["anonymous"].get("/token?service=berth-registry")
    # a publisher whose alias starts like a registry path is a page like any other
    assert "Content-Security-Policy" in site["anonymous"].get("/tokenish")
    assert "Content-Security-Policy" in site["anonymous"].get("/v2x")

"""Catalog data of public repositories: Amazon ECR Public's PutRepositoryCatalogData
and GetRepositoryCatalogData with its limits, Markdown rendered safe, and logos
checked by what their bytes are."""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import zlib
from importlib import import_module

import pytest
from django.apps import apps as installed
from django.contrib.auth import get_user_model
from django.db import DataError, IntegrityError, transaction
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from apps.audit.events import Actor
from apps.repositories import catalog, services
from apps.repositories.models import Repository, RepositoryCatalogData, Visibility

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(tenant, api_client) -> APIClient:
    return api_client(tenant)


@pytest.fixture
def public_repository(tenant) -> Repository:
    return services.create_repository(
        actor=Actor.system("test"), account=tenant.account, name="tools/cli", visibility=Visibility.PUBLIC
    )


URL = "/api/v1/repositories/tools/cli/-/catalog-data"
LOGO_URL = URL + "/logo"


def put(client, url: str = URL, **body):
    return client.put(url, body, format="json")


def field_errors(response) -> list[tuple[str, str]]:
    body = response.json()
    assert response.status_code == 400 and body["code"] == "invalid", body
    return [(e["field"], e["code"]) for e in body["errors"]]


# -- images made here, with Pillow ----------------------------------------------------


def image_bytes(image_format: str, size: tuple[int, int], *, noise: bool = False) -> bytes:
    if noise:
        width, height = size
        image = Image.frombytes("RGB", size, hashlib.shake_256(b"%dx%d" % size).digest(width * height * 3))
    else:
        image = Image.new("RGB", size, (20, 120, 200))
    out = io.BytesIO()
    image.save(out, image_format)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_of_exactly(size_in_bytes: int) -> bytes:
    """A real PNG of just that many bytes: noise that does not compress, padded with a text chunk."""
    png = image_bytes("PNG", (200, 200), noise=True)
    iend = png.rindex(b"IEND") - 4
    padding = size_in_bytes - len(png) - 12 - len(b"pad\x00")
    assert padding >= 0
    padded = png[:iend] + png_chunk(b"tEXt", b"pad\x00" + b"x" * padding) + png[iend:]
    assert len(padded) == size_in_bytes
    return padded


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- put and get ------------------------------------------------------------------------


def test_get_before_any_put_answers_empty_fields(alice, public_repository):
    response = alice.get(URL)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "description": "", "aboutText": "", "usageText": "", "aboutHtml": "", "usageHtml": "",
        "architectures": [], "operatingSystems": [], "logoUrl": None, "logo": None, "updatedAt": None,
    }  # fmt: skip


def test_put_every_field_and_get_it_back(alice, public_repository):
    logo = image_bytes("PNG", (128, 96))
    response = put(
        alice,
        description="A command line tool",
        aboutText="# Tools\n\nMade **with** care.",
        usageText="Run `cli --help`.",
        architectures=["x86-64", "ARM 64"],
        operatingSystems=["Linux"],
        logoImageBlob=b64(logo),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "description": "A command line tool",
        "aboutText": "# Tools\n\nMade **with** care.",
        "usageText": "Run `cli --help`.",
        "aboutHtml": "<h2>Tools</h2>\n<p>Made <strong>with</strong> care.</p>\n",  # headings under the page's h1
        "usageHtml": "<p>Run <code>cli --help</code>.</p>\n",
        "architectures": ["x86-64", "ARM 64"],
        "operatingSystems": ["Linux"],
        "logoUrl": "http://testserver/api/v1/repositories/tools/cli/-/catalog-data/logo",
        "logo": {
            "contentType": "image/png",
            "width": 128,
            "height": 96,
            "digest": "sha256:" + hashlib.sha256(logo).hexdigest(),
        },
        "updatedAt": body["updatedAt"],
    }
    assert body["updatedAt"]
    assert alice.get(URL).json() == body
    stored = RepositoryCatalogData.objects.get(repository=public_repository)
    assert bytes(stored.logo) == logo


def test_fields_left_out_stay_and_empty_ones_clear(alice, public_repository):
    logo = image_bytes("JPEG", (64, 64))
    put(alice, description="first", aboutText="about", architectures=["ARM"], logoImageBlob=b64(logo))
    body = put(alice, usageText="usage").json()
    assert (body["description"], body["aboutText"], body["usageText"]) == ("first", "about", "usage")
    assert body["architectures"] == ["ARM"] and body["logo"]["contentType"] == "image/jpeg"

    body = put(alice, description="", aboutText="", architectures=[]).json()
    assert (body["description"], body["aboutText"], body["aboutHtml"], body["architectures"]) == ("", "", "", [])
    assert body["usageText"] == "usage" and body["logo"] is not None

    body = put(alice, logoImageBlob=None).json()
    assert body["logo"] is None and body["logoUrl"] is None
    put(alice, logoImageBlob=b64(logo))
    assert put(alice, logoImageBlob="").json()["logo"] is None
    assert RepositoryCatalogData.objects.get().logo is None


def test_values_outside_the_badges_are_kept_as_given(alice, public_repository):
    body = put(alice, architectures=["ARM", "riscv64", "arm 64"], operatingSystems=["Windows", "FreeBSD"]).json()
    assert body["architectures"] == ["ARM", "riscv64", "arm 64"]
    assert body["operatingSystems"] == ["Windows", "FreeBSD"]


# -- ECR Public's limits, at their edges ---------------------------------------------


def test_description_is_at_most_1024_characters(alice, public_repository):
    assert put(alice, description="d" * 1024).status_code == 200
    assert field_errors(put(alice, description="d" * 1025)) == [("description", "max_length")]
    assert alice.get(URL).json()["description"] == "d" * 1024


@pytest.mark.parametrize("field", ["aboutText", "usageText"])
def test_about_and_usage_are_at_most_25600_characters(alice, public_repository, field):
    # Multi-byte characters: the limit counts characters, not bytes.
    at_limit = "é" * 25_600
    response = put(alice, **{field: at_limit})
    assert response.status_code == 200, response.content
    assert response.json()[field] == at_limit
    assert field_errors(put(alice, **{field: at_limit + "x"})) == [(field, "max_length")]


@pytest.mark.parametrize("field", ["architectures", "operatingSystems"])
def test_at_most_50_badges_of_1_to_50_characters(alice, public_repository, field):
    fifty = [f"value-{i}" for i in range(50)]
    assert put(alice, **{field: fifty}).json()[field] == fifty
    assert field_errors(put(alice, **{field: [*fifty, "one-more"]})) == [(field, "max_length")]
    assert put(alice, **{field: ["v" * 50]}).json()[field] == ["v" * 50]
    assert field_errors(put(alice, **{field: ["ok", "v" * 51]})) == [(f"{field}.1", "max_length")]
    assert field_errors(put(alice, **{field: [""]})) == [(f"{field}.0", "blank")]
    assert field_errors(put(alice, **{field: ["Linux", "Linux"]})) == [(field, "unique")]
    assert alice.get(URL).json()[field] == ["v" * 50]


def test_logo_is_at_most_512000_bytes(alice, public_repository):
    at_limit = png_of_exactly(512_000)
    response = put(alice, logoImageBlob=b64(at_limit))
    assert response.status_code == 200, response.content
    assert response.json()["logo"]["width"] == 200

    over = png_of_exactly(512_001)
    response = put(alice, logoImageBlob=b64(over))
    assert field_errors(response) == [("logoImageBlob", "logo_too_large")]
    assert "512,001 bytes" in response.json()["detail"]
    # Far larger still is refused before it is decoded.
    assert field_errors(put(alice, logoImageBlob="A" * 800_000)) == [("logoImageBlob", "max_length")]
    assert bytes(RepositoryCatalogData.objects.get().logo) == at_limit


@pytest.mark.parametrize(
    ("size", "accepted"),
    [
        ((60, 60), True), ((2048, 2048), True), ((60, 2048), True),
        ((59, 100), False), ((100, 59), False), ((2049, 100), False), ((100, 2049), False),
    ],
)  # fmt: skip
def test_logo_sides_are_60_to_2048_pixels(alice, public_repository, size, accepted):
    response = put(alice, logoImageBlob=b64(image_bytes("PNG", size)))
    if accepted:
        assert response.status_code == 200, response.content
        assert (response.json()["logo"]["width"], response.json()["logo"]["height"]) == size
    else:
        assert field_errors(response) == [("logoImageBlob", "logo_dimensions")]
        assert f"{size[0]}x{size[1]}" in response.json()["detail"]


def test_logo_is_png_or_jpeg_by_its_bytes(alice, public_repository):
    for image_format in ("GIF", "WEBP", "BMP", "TIFF"):
        response = put(alice, logoImageBlob=b64(image_bytes(image_format, (100, 100))))
        assert field_errors(response) == [("logoImageBlob", "logo_format")], image_format
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><script>alert(1)</script></svg>'
    assert field_errors(put(alice, logoImageBlob=b64(svg))) == [("logoImageBlob", "logo_format")]

    # A JPEG's first bytes before a PNG: what the bytes say they are is not taken on trust.
    png = image_bytes("PNG", (100, 100))
    liar = b"\xff\xd8\xff\xe0" + png
    assert field_errors(put(alice, logoImageBlob=b64(liar)))[0][0] == "logoImageBlob"
    # A PNG is a PNG whatever the client calls it, and is served as one.
    body = put(alice, logoImageBlob=b64(png), logoContentType="image/jpeg").json()
    assert body["logo"]["contentType"] == "image/png"
    assert alice.get(LOGO_URL)["Content-Type"] == "image/png"


def test_damaged_and_malformed_logos_are_refused(alice, public_repository):
    png = image_bytes("PNG", (100, 100), noise=True)
    assert field_errors(put(alice, logoImageBlob=b64(png[: len(png) // 2]))) == [("logoImageBlob", "logo_damaged")]
    jpeg = image_bytes("JPEG", (100, 100), noise=True)
    assert field_errors(put(alice, logoImageBlob=b64(jpeg[: len(jpeg) // 2]))) == [("logoImageBlob", "logo_damaged")]
    corrupt = bytearray(png)
    corrupt[len(png) // 2] ^= 0xFF  # a flipped bit inside the image data: its CRC no longer matches
    assert field_errors(put(alice, logoImageBlob=b64(bytes(corrupt)))) == [("logoImageBlob", "logo_damaged")]
    assert field_errors(put(alice, logoImageBlob="not base64!")) == [("logoImageBlob", "invalid_base64")]
    assert field_errors(put(alice, logoImageBlob=12)) == [("logoImageBlob", "invalid")]
    assert not RepositoryCatalogData.objects.filter(logo__isnull=False).exists()


def test_wrapped_base64_is_accepted(alice, public_repository):
    png = image_bytes("PNG", (100, 100))
    response = put(alice, logoImageBlob=base64.encodebytes(png).decode())
    assert response.status_code == 200, response.content
    assert bytes(RepositoryCatalogData.objects.get().logo) == png


# -- Markdown, rendered and sanitized ------------------------------------------------


def test_markdown_is_rendered_and_raw_html_is_shown_as_text(alice, public_repository):
    about = (
        "# Title <script>alert('x')</script>\n\n"
        "<script>alert('block')</script>\n\n"
        '<div onclick="steal()">raw</div>\n\n'
        "<img src=x onerror=alert(1)>\n\n"
        "<!-- a comment -->\n"
    )
    body = put(alice, aboutText=about).json()
    html = body["aboutHtml"]
    assert body["aboutText"] == about  # stored raw
    assert "<script" not in html and "<div" not in html and "<img" not in html and "<!--" not in html
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in html
    assert '&lt;div onclick="steal()"&gt;raw&lt;/div&gt;' in html


def test_links_keep_only_safe_schemes(alice, public_repository):
    usage = (
        "[js](javascript:alert(1)) [js2](JaVaScRiPt:alert(1)) [vb](vbscript:msgbox) [data](data:text/html,x) "
        '[ftp](ftp://example.com/f) [web](https://example.com/docs "Docs") [mail](mailto:ops@example.com) '
        "[here](#usage) ![logo](https://example.com/logo.png)"
    )
    html = put(alice, usageText=usage).json()["usageHtml"]
    for scheme in ("javascript", "vbscript", "data", "ftp"):
        assert f'href="{scheme}' not in html.lower(), scheme
    assert "[js](javascript:alert(1))" in html  # not a link: shown as the text it is
    assert '<a rel="nofollow noopener noreferrer ugc">ftp</a>' in html  # the href went, the text stayed
    assert '<a href="https://example.com/docs" title="Docs" rel="nofollow noopener noreferrer ugc">web</a>' in html
    assert 'href="mailto:ops@example.com"' in html and 'href="#usage"' in html
    assert '<img src="https://example.com/logo.png" alt="logo">' in html


def test_tables_and_code_are_kept(alice, public_repository):
    about = "| tag | arch |\n|:----|-----:|\n| `1.0` | x86-64 |\n\n```python\nprint('hi')\n```\n"
    html = put(alice, aboutText=about).json()["aboutHtml"]
    assert "<table>" in html and "<thead>" in html and "<tbody>" in html
    assert '<th style="text-align:left">tag</th>' in html
    assert '<td style="text-align:right">x86-64</td>' in html
    assert "<pre><code class=\"language-python\">print('hi')\n</code></pre>" in html


def test_the_sanitizer_is_a_second_wall():
    # HTML markdown-it would never make from Markdown: what the sanitizer lets through.
    assert catalog.render_markdown("") == ""
    html = catalog.render_markdown("[ftp](ftp://example.com) `x`")
    assert html == '<p><a rel="nofollow noopener noreferrer ugc">ftp</a> <code>x</code></p>\n'
    fenced = catalog.render_markdown('```x" onmouseover="alert(1)\ncode\n```\n')
    assert "onmouseover" not in fenced and fenced == "<pre><code>code\n</code></pre>\n"


# -- the logo's own address ------------------------------------------------------------


def test_logo_is_served_with_its_type_and_etag(alice, public_repository):
    jpeg = image_bytes("JPEG", (300, 200))
    put(alice, logoImageBlob=b64(jpeg))
    response = alice.get(LOGO_URL, HTTP_ACCEPT="image/*")
    assert response.status_code == 200
    assert response.content == jpeg
    assert response["Content-Type"] == "image/jpeg"
    etag = f'"sha256:{hashlib.sha256(jpeg).hexdigest()}"'
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "private, no-cache"
    assert response["X-Content-Type-Options"] == "nosniff"
    head = alice.head(LOGO_URL)
    assert (head.status_code, head.content, head["ETag"], head["Content-Length"]) == (200, b"", etag, str(len(jpeg)))

    for if_none_match in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        cached = alice.get(LOGO_URL, HTTP_IF_NONE_MATCH=if_none_match)
        assert (cached.status_code, cached.content, cached["ETag"]) == (304, b"", etag), if_none_match
    assert alice.get(LOGO_URL, HTTP_IF_NONE_MATCH='"sha256:other"').status_code == 200

    png = image_bytes("PNG", (80, 80))
    put(alice, logoImageBlob=b64(png))
    changed = alice.get(LOGO_URL, HTTP_IF_NONE_MATCH=etag)
    assert (changed.status_code, changed.content, changed["Content-Type"]) == (200, png, "image/png")


def test_no_logo_is_a_json_404(alice, public_repository):
    response = alice.get(LOGO_URL, HTTP_ACCEPT="image/png")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "repository tools/cli has no logo"}


# -- public repositories only ----------------------------------------------------------


def test_a_private_repository_is_refused(tenant, alice):
    services.create_repository(actor=Actor.system("test"), account=tenant.account, name="tools/cli")
    response = put(alice, description="secret", logoImageBlob=b64(image_bytes("PNG", (64, 64))))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "repository_not_public"
    assert "private" in body["detail"] and "ECR Public has no private" in body["detail"]
    assert not RepositoryCatalogData.objects.exists()
    with pytest.raises(catalog.RepositoryNotPublic):
        catalog.put_repository_catalog_data(
            actor=Actor.system("test"), repository=Repository.objects.get(), description="x"
        )


def test_catalog_data_outlives_a_turn_to_private(alice, public_repository):
    put(alice, description="kept")
    alice.patch("/api/v1/repositories/tools/cli", {"visibility": "private"}, format="json")
    assert alice.get(URL).json()["description"] == "kept"
    assert put(alice, description="changed").json()["code"] == "repository_not_public"
    alice.patch("/api/v1/repositories/tools/cli", {"visibility": "public"}, format="json")
    assert put(alice, description="changed").json()["description"] == "changed"


def test_catalog_data_goes_with_its_repository(alice, public_repository):
    put(alice, description="gone soon", logoImageBlob=b64(image_bytes("PNG", (64, 64))))
    assert alice.delete("/api/v1/repositories/tools/cli").status_code == 204
    assert not RepositoryCatalogData.objects.exists()


# -- accounts never see each other's ---------------------------------------------------


def test_another_accounts_repository_is_not_found(tenant, other_tenant, alice, api_client, public_repository):
    put(alice, description="alice's", logoImageBlob=b64(image_bytes("PNG", (64, 64))))
    mallory = api_client(other_tenant)
    for response in (mallory.get(URL), put(mallory, description="mallory's"), mallory.get(LOGO_URL)):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    # Her own repository of the same name has its own catalog data.
    services.create_repository(
        actor=Actor.system("test"), account=other_tenant.account, name="tools/cli", visibility=Visibility.PUBLIC
    )
    assert put(mallory, description="mallory's").json()["description"] == "mallory's"
    assert mallory.get(LOGO_URL).status_code == 404
    assert alice.get(URL).json()["description"] == "alice's"
    assert APIClient().get(URL).status_code == 401


def test_a_session_needs_its_csrf_token(tenant, public_repository):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(get_user_model().objects.get(username=tenant.username))
    assert browser.get(URL).status_code == 200
    assert put(browser, description="x").status_code == 403


# -- the service and the database hold the same rules ---------------------------------


def test_the_service_checks_what_the_api_checks(public_repository):
    invalid = [
        ({"description": "d" * 1025}, "description", "max_length"),
        ({"about_markdown": "a" * 25_601}, "about_markdown", "max_length"),
        ({"usage_markdown": "nul\x00"}, "usage_markdown", "null_characters_not_allowed"),
        ({"architectures": ["a"] * 51}, "architectures", "max_length"),
        ({"operating_systems": ["  "]}, "operating_systems", "invalid"),
        ({"operating_systems": ["Linux", "Linux"]}, "operating_systems", "unique"),
        ({"logo": b"GIF89a"}, "logo", "logo_format"),
    ]
    for kwargs, field, code in invalid:
        with pytest.raises(catalog.CatalogDataInvalid) as refused:
            catalog.put_repository_catalog_data(actor=Actor.system("test"), repository=public_repository, **kwargs)
        assert (refused.value.field, refused.value.code) == (field, code), kwargs
    with pytest.raises(ValueError, match="not both"):
        catalog.put_repository_catalog_data(
            actor=Actor.system("test"), repository=public_repository, logo=b"x", remove_logo=True
        )
    assert not RepositoryCatalogData.objects.exists()


def test_the_database_refuses_what_breaks_the_limits(public_repository):
    # PostgreSQL's varchar(1024) refuses it before the check constraint does (DataError); SQLite's check does.
    with pytest.raises((DataError, IntegrityError)), transaction.atomic():
        RepositoryCatalogData.objects.create(repository=public_repository, description="d" * 1025)
    with pytest.raises(IntegrityError), transaction.atomic():
        RepositoryCatalogData.objects.create(repository=public_repository, usage_markdown="u" * 25_601)
    # A logo without what it is, or of a size no check would pass.
    with pytest.raises(IntegrityError), transaction.atomic():
        RepositoryCatalogData.objects.create(repository=public_repository, logo=b"\x89PNG")
    with pytest.raises(IntegrityError), transaction.atomic():
        RepositoryCatalogData.objects.create(
            repository=public_repository,
            logo=b"\x89PNG",
            logo_content_type="image/png",
            logo_width=59,
            logo_height=100,
            logo_digest="sha256:" + "0" * 64,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        RepositoryCatalogData.objects.create(
            repository=public_repository,
            logo=b"x" * 512_001,
            logo_content_type="image/png",
            logo_width=60,
            logo_height=60,
            logo_digest="sha256:" + "0" * 64,
        )
    RepositoryCatalogData.objects.create(
        repository=public_repository,
        logo=b"x" * 512_000,
        logo_content_type="image/jpeg",
        logo_width=2048,
        logo_height=60,
        logo_digest="sha256:" + "0" * 64,
    )


def test_staff_see_catalog_data_on_the_repository_admin(alice, public_repository, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    put(alice, description="Shown to staff", architectures=["ARM"], logoImageBlob=b64(image_bytes("PNG", (64, 64))))
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser(username="root", password="x", email="r@e.com"))
    page = staff.get(f"/admin/repositories/repository/{public_repository.pk}/change/")
    assert page.status_code == 200
    digest = RepositoryCatalogData.objects.get().logo_digest
    assert b"Shown to staff" in page.content and digest.encode() in page.content


def test_the_migration_renders_stored_texts_again_with_their_headings_under_the_page_title(alice, public_repository):
    assert put(alice, aboutText="# Tools\n\nMade.", usageText="## Run").status_code == 200
    RepositoryCatalogData.objects.update(about_html="<h1>Tools</h1>", usage_html="<h2>Run</h2>")  # as rendered before
    import_module("apps.repositories.migrations.0005_catalog_headings_under_the_page_title").render_again(
        installed, None
    )
    stored = RepositoryCatalogData.objects.get()
    assert (stored.about_html, stored.usage_html) == ("<h2>Tools</h2>\n<p>Made.</p>\n", "<h3>Run</h3>\n")

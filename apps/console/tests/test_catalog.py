"""The catalog data editor (`/console/repositories/<name>/-/catalog`): ECR Public's
PutRepositoryCatalogData through the API's service and authorization, its limits as
form errors (400, nothing stored), the gallery's sanitizer in both previews, public
repositories only, and another account's repositories never found."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.iam import services as iam_services
from apps.repositories import catalog
from apps.repositories import services as repository_services
from apps.repositories.models import (
    CATALOG_DESCRIPTION_MAX_LENGTH,
    CATALOG_TEXT_MAX_LENGTH,
    RepositoryCatalogData,
    Visibility,
)

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
HOSTILE = "# Tools\n\nUse **it**.\n\n<script>alert(1)</script>\n\n[x](javascript:alert(2))"


def make_repository(tenant, name="team/app", *, public=True):
    return repository_services.create_repository(
        account=tenant.account,
        name=name,
        visibility=Visibility.PUBLIC if public else Visibility.PRIVATE,
        actor=SYSTEM,
    )


def image_bytes(size=(64, 64), image_format="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(buffer, format=image_format)
    return buffer.getvalue()


def iam_user(tenant, name: str, *actions: str):
    user = iam_services.create_user(actor=SYSTEM, account=tenant.account, username=f"{name}-{tenant.id}")
    if actions:
        document = json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
        )
        policy = iam_services.create_policy(actor=SYSTEM, account=tenant.account, name=f"{name}-p", document=document)
        iam_services.attach_policy(actor=SYSTEM, account=tenant.account, managed_policy=policy, user=user)
    return user


def form(**changes) -> dict:
    data = {
        "description": "A tiny web server",
        "about_markdown": "# Web\n\nServes **files**.",
        "usage_markdown": "Run `docker run`.",
        "operating_systems": ["Linux"],
        "architectures": ["x86-64", "ARM 64"],
    }
    data.update(changes)
    return data


URL = "/console/repositories/team/app/-/catalog"


@pytest.fixture
def reads_spooled(settings):
    """Counting a page's own queries: in production its read event goes to the
    per-process audit spool (no query); the tests write every event at once, which
    would add the trail's append (its chain head and insert) to the count."""
    settings.BERTH_AUDIT_READ_EVENTS = False


def test_the_page_shows_the_catalog_data_with_its_rendering_and_the_gallery_link(root_client, tenant, within_budget):
    repository = make_repository(tenant)
    catalog.put_repository_catalog_data(
        repository=repository,
        description="Small and fast",
        about_markdown=HOSTILE,
        architectures=["x86-64", "riscv64"],  # riscv64 is no recognised value: put through the API
        operating_systems=["Linux"],
        logo=image_bytes(),
        actor=SYSTEM,
    )
    body = root_client.get(URL).content.decode()
    assert "Small and fast" in body
    assert 'aria-current="page">Catalog data</a>' in body and "badge--public" in body
    assert f'href="/{tenant.alias}/team/app"' in body
    # The stored about text in the textarea (escaped), its sanitized rendering in the preview pane.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<h2>Tools</h2>" in body and "<strong>it</strong>" in body
    assert "<script>alert" not in body and 'href="javascript:' not in body
    # Recognised values offered as checkboxes, a value put elsewhere offered too and kept checked.
    for value in ("ARM", "ARM 64", "x86", "x86-64", "riscv64", "Linux", "Windows"):
        assert f'value="{value}"' in body
    assert 'value="riscv64"' in body and body.count("checked") == 3
    assert "/-/catalog/logo?v=" in body and "64×64 pixels" in body
    assert Event.objects.filter(event_name="GetRepositoryCatalogData", event_source="ecr-public").exists()


def test_the_page_keeps_the_query_budget(root_client, tenant, within_budget, reads_spooled):
    repository = make_repository(tenant)
    catalog.put_repository_catalog_data(
        repository=repository, about_markdown=HOSTILE, architectures=["x86-64"], logo=image_bytes(), actor=SYSTEM
    )
    within_budget(root_client, URL)
    root_client.post(URL, {**form(), "preview": "1"})  # warms nothing the GET needs
    with_errors = root_client.post(URL, form(description="d" * (CATALOG_DESCRIPTION_MAX_LENGTH + 1)))
    assert with_errors.status_code == 400


def test_saving_puts_the_catalog_data_through_the_service_and_records_it(root_client, tenant):
    make_repository(tenant)
    response = root_client.post(URL, form(about_markdown=HOSTILE), REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 302 and response["Location"] == URL
    stored = RepositoryCatalogData.objects.get(repository__name="team/app")
    assert stored.description == "A tiny web server"
    assert stored.about_markdown == HOSTILE
    assert "<script>" not in stored.about_html and "<h2>Tools</h2>" in stored.about_html
    assert stored.architectures == ["x86-64", "ARM 64"] and stored.operating_systems == ["Linux"]
    event = Event.objects.get(event_name="PutRepositoryCatalogData")
    assert (event.event_source, event.actor_type, event.source_ip, event.repository) == (
        "ecr-public",
        "Root",
        "192.0.2.7",
        "team/app",
    )
    assert "Catalog data of team/app saved" in root_client.get(URL).content.decode()


def test_an_empty_text_and_no_checked_box_clear_what_was_put(root_client, tenant):
    repository = make_repository(tenant)
    catalog.put_repository_catalog_data(
        repository=repository, usage_markdown="Use it", architectures=["ARM"], actor=SYSTEM
    )
    response = root_client.post(URL, form(usage_markdown="", architectures=[]))
    assert response.status_code == 302
    stored = RepositoryCatalogData.objects.get(repository=repository)
    assert (stored.usage_markdown, stored.usage_html, stored.architectures) == ("", "", [])


def test_a_logo_is_uploaded_served_to_the_page_and_removed(root_client, tenant):
    repository = make_repository(tenant)
    png = image_bytes((120, 80))
    response = root_client.post(URL, {**form(), "logo": SimpleUploadedFile("logo.png", png, "image/png")})
    assert response.status_code == 302
    stored = RepositoryCatalogData.objects.get(repository=repository)
    assert (bytes(stored.logo), stored.logo_content_type, stored.logo_width, stored.logo_height) == (
        png,
        "image/png",
        120,
        80,
    )
    served = root_client.get(URL + "/logo")
    assert served.status_code == 200 and served["Content-Type"] == "image/png" and served.content == png
    assert root_client.get(URL + "/logo", HTTP_IF_NONE_MATCH=served["ETag"]).status_code == 304
    # A JPEG replaces it (the type comes from the bytes, not the name).
    jpeg = image_bytes((64, 64), "JPEG")
    root_client.post(URL, {**form(), "logo": SimpleUploadedFile("logo.png", jpeg, "image/png")})
    stored.refresh_from_db()
    assert stored.logo_content_type == "image/jpeg"
    assert root_client.post(URL, {**form(), "remove_logo": "on"}).status_code == 302
    stored.refresh_from_db()
    assert stored.logo is None and not stored.has_logo
    assert root_client.get(URL + "/logo").status_code == 404


@pytest.mark.parametrize(
    "data, message",
    [
        (image_bytes((10, 10)), "the logo is 10x10 pixels; each side must be 60 to 2048"),
        (b"GIF89a not really", "the logo is not a PNG or JPEG image"),
        (image_bytes((64, 64), "GIF"), "the logo is not a PNG or JPEG image"),
        (b"\x89PNG" + b"\x00" * 600_000, "the logo is 600,004 bytes; it may be at most 512,000"),
        (image_bytes((64, 64))[:-30], "the logo image is damaged"),
    ],
    ids=["too small", "not an image", "gif", "too large", "damaged"],
)
def test_a_bad_logo_is_a_readable_error_and_nothing_is_stored(root_client, tenant, data, message):
    make_repository(tenant)
    response = root_client.post(
        URL, {**form(description="changed"), "logo": SimpleUploadedFile("l.png", data, "image/png")}
    )
    body = response.content.decode()
    assert response.status_code == 400 and message in body and "Nothing was saved" in body
    assert not RepositoryCatalogData.objects.exists()
    assert not Event.objects.filter(event_name="PutRepositoryCatalogData", error_code="").exists()


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"description": "d" * (CATALOG_DESCRIPTION_MAX_LENGTH + 1)}, "description"),
        ({"about_markdown": "a" * (CATALOG_TEXT_MAX_LENGTH + 1)}, "about_markdown"),
        ({"operating_systems": ["Linux", "Linux"]}, "operating_systems"),  # the service's check
        ({"architectures": ["sparc"]}, "architectures"),
        ({"remove_logo": "on", "logo": None}, "remove_logo"),
    ],
    ids=["description too long", "about too long", "twice", "unknown architecture", "logo and removal"],
)
def test_bad_input_is_a_400_with_the_field_marked_and_nothing_stored(root_client, tenant, changes, field):
    repository = make_repository(tenant)
    catalog.put_repository_catalog_data(repository=repository, description="before", actor=SYSTEM)
    data = form(**changes)
    if "logo" in changes:
        data["logo"] = SimpleUploadedFile("l.png", image_bytes(), "image/png")
    response = root_client.post(URL, data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert 'class="errorlist"' in response.content.decode()
    assert RepositoryCatalogData.objects.get(repository=repository).description == "before"


def test_the_preview_button_keeps_the_draft_and_renders_it_without_storing(root_client, tenant):
    make_repository(tenant)
    response = root_client.post(URL, {**form(about_markdown=HOSTILE), "preview": "1"})
    body = response.content.decode()
    assert response.status_code == 200 and "This is a preview" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # the draft, in its textarea
    assert "<h2>Tools</h2>" in body and "<script>alert" not in body
    assert not RepositoryCatalogData.objects.exists()
    assert not Event.objects.filter(event_name="PutRepositoryCatalogData").exists()


def test_the_live_preview_answers_the_gallery_sanitized_html(tenant):
    make_repository(tenant)
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.get(username=tenant.username))
    # CSRF-protected like every form: no token, no preview.
    assert client.post(URL + "/preview", {"text": "# hi"}).status_code == 403
    token = client.get(URL).context["csrf_token"]
    answer = client.post(URL + "/preview", {"text": HOSTILE}, HTTP_X_CSRFTOKEN=str(token))
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/html")
    html = answer.content.decode()
    assert html == catalog.render_markdown(HOSTILE)
    assert "<h2>Tools</h2>" in html and "<script>" not in html and 'href="javascript:' not in html
    too_long = client.post(URL + "/preview", {"text": "x" * (CATALOG_TEXT_MAX_LENGTH + 1)}, HTTP_X_CSRFTOKEN=str(token))
    assert too_long.status_code == 400 and "at most 25600 characters" in too_long.content.decode().replace(",", "")
    assert Event.objects.filter(event_name="GetRepositoryCatalogData").count() >= 3


def test_a_private_repository_has_no_catalog_page_and_nothing_is_put(root_client, tenant):
    make_repository(tenant, public=False)
    page = root_client.get(URL)
    assert page.status_code == 404 and "Catalog data is for public repositories" in page.content.decode()
    assert "/console/repositories/team/app/-/settings" in page.content.decode()
    assert root_client.post(URL, form()).status_code == 404
    assert not RepositoryCatalogData.objects.exists()


def test_another_accounts_repository_is_never_found(root_client, other_tenant):
    make_repository(other_tenant)
    assert root_client.get(URL).status_code == 404
    assert root_client.post(URL, form()).status_code == 404
    assert root_client.post(URL + "/preview", {"text": "x"}).status_code == 404
    assert root_client.get(URL + "/logo").status_code == 404
    assert not RepositoryCatalogData.objects.exists()


def test_an_iam_user_without_permission_sees_the_missing_one(client, tenant):
    make_repository(tenant)
    client.force_login(iam_user(tenant, "intern"))
    page = client.get(URL)
    assert page.status_code == 403 and "ecr-public:GetRepositoryCatalogData" in page.content.decode()
    assert client.post(URL + "/preview", {"text": "x"}).status_code == 403


def test_a_reader_sees_the_page_but_may_not_save(client, tenant):
    make_repository(tenant)
    client.force_login(iam_user(tenant, "reader", "ecr-public:GetRepositoryCatalogData"))
    page = client.get(URL)
    assert page.status_code == 200 and "Save catalog data" not in page.content.decode()
    assert client.post(URL, {**form(), "preview": "1"}).status_code == 200
    refused = client.post(URL, form())
    assert refused.status_code == 403 and "ecr-public:PutRepositoryCatalogData" in refused.content.decode()
    assert not RepositoryCatalogData.objects.exists()


def test_a_writer_saves(client, tenant):
    make_repository(tenant)
    client.force_login(
        iam_user(tenant, "writer", "ecr-public:GetRepositoryCatalogData", "ecr-public:PutRepositoryCatalogData")
    )
    assert client.post(URL, form()).status_code == 302
    assert Event.objects.get(event_name="PutRepositoryCatalogData").actor_type == "IAMUser"

"""The publisher's profile (display name, plain-text bio, logo) set on the settings
page through accounts.services.update_publisher_profile (berth:UpdatePublisherProfile,
recorded as Berth's UpdatePublisherProfile), and shown on the gallery's publisher page."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.accounts import services
from apps.accounts.models import PUBLISHER_BIO_MAX_LENGTH, Account, PublisherLogo
from apps.audit.models import Event
from apps.events.models import DomainEvent
from apps.kernel import images

from .conftest import actor_of
from .test_settings_authorization import iam_user

pytestmark = pytest.mark.django_db


def picture(size=(96, 96), kind="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 90, 160)).save(out, kind)
    return out.getvalue()


def upload(data: bytes, name="logo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def save_profile(client, **fields):
    data = {"display_name": "Acme Tools", "bio": "We ship the tools.\r\nSince 2019.", **fields}
    return client.post("/accounts/settings/profile", data, REMOTE_ADDR="192.0.2.10")


@pytest.fixture
def root_client(client, tenant):
    client.force_login(get_user_model().objects.get(username=tenant.username))
    return client


def test_the_root_sets_the_profile_and_the_trail_records_it(root_client, tenant):
    logo = picture()
    response = save_profile(root_client, logo=upload(logo))
    assert response.status_code == 302 and response["Location"] == "/accounts/settings#profile-heading"
    account = Account.objects.get(pk=tenant.id)
    assert (account.display_name, account.bio) == ("Acme Tools", "We ship the tools.\nSince 2019.")
    stored = PublisherLogo.objects.get(account=account)
    assert bytes(stored.data) == logo and (stored.content_type, stored.width, stored.height) == ("image/png", 96, 96)
    assert account.logo_digest == stored.digest == images.inspect_logo(logo).digest
    event = Event.objects.get(event_name="UpdatePublisherProfile")
    assert (event.event_source, event.actor_type, event.source_ip) == ("berth", "Root", "192.0.2.10")
    assert event.request_parameters == {
        "registryId": tenant.id,
        "displayName": "Acme Tools",
        "bio": "We ship the tools.\nSince 2019.",
        "logoDigest": stored.digest,
    }
    assert event.response_elements == {"changed": ["displayName", "bio", "logo"]}
    changed = DomainEvent.objects.filter(name="account.changed").latest("pk")
    assert changed.payload == {"accountId": tenant.id, "changed": ["displayName", "bio", "logo"]}

    page = root_client.get("/accounts/settings").content.decode()
    assert "Your publisher profile is saved." in page and "Acme Tools" in page
    assert f"/{tenant.alias}/-/logo?v=" in page

    assert save_profile(root_client, remove_logo="on").status_code == 302
    assert not PublisherLogo.objects.filter(account_id=tenant.id).exists()
    assert Account.objects.get(pk=tenant.id).logo_digest == ""


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"logo": b"GIF89a not a picture"}, "the logo is not a PNG or JPEG image"),
        ({"logo": "small"}, "the logo is 20x20 pixels; each side must be 60 to 2048"),
        ({"logo": "huge"}, "it may be at most 512,000"),
        ({"bio": "x" * (PUBLISHER_BIO_MAX_LENGTH + 1)}, f"the bio is {PUBLISHER_BIO_MAX_LENGTH + 1} characters"),
        ({"bio": "a bell \x07"}, "the bio holds control characters"),
        ({"display_name": "d" * 101}, "Ensure this value has at most 100 characters"),
        ({"logo": "ok", "remove_logo": "on"}, "give a new logo or remove the logo, not both"),
    ],
)
def test_bad_input_is_refused_with_a_readable_message_and_nothing_stored(root_client, tenant, fields, message):
    logo = fields.get("logo")
    if logo == "small":
        fields["logo"] = upload(picture((20, 20)))
    elif logo == "huge":
        fields["logo"] = upload(b"\x89PNG" + b"\0" * images.LOGO_MAX_BYTES)
    elif logo == "ok":
        fields["logo"] = upload(picture())
    elif isinstance(logo, bytes):
        fields["logo"] = upload(logo)
    response = save_profile(root_client, **fields)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    account = Account.objects.get(pk=tenant.id)
    assert (account.display_name, account.bio, account.logo_digest) == ("", "", "")
    # The request is in the trail as refused (the middleware finishes what authorize began).
    [refused] = Event.objects.filter(event_name="UpdatePublisherProfile")
    assert refused.error_code == "BadRequest" and not refused.response_elements


def test_an_iam_user_needs_the_permission(client, tenant):
    client.force_login(iam_user(tenant, "reader", "ecr-public:DescribeRegistries"))
    page = client.get("/accounts/settings").content.decode()
    assert 'id="profile-not-allowed"' in page and "berth:UpdatePublisherProfile" in page
    refused = save_profile(client)
    assert refused.status_code == 403 and "berth:UpdatePublisherProfile" in refused.content.decode()
    assert Account.objects.get(pk=tenant.id).display_name == ""

    client.force_login(iam_user(tenant, "designer", "ecr-public:DescribeRegistries", "berth:UpdatePublisherProfile"))
    assert save_profile(client).status_code == 302
    done = Event.objects.get(event_name="UpdatePublisherProfile", error_code="")
    assert done.actor_type == "IAMUser" and done.actor_username.startswith("designer")


def test_the_gallery_shows_the_bio_and_logo_and_the_display_name_once_verified(client, tenant):
    user = get_user_model().objects.get(username=tenant.username)
    logo = picture(kind="JPEG")
    services.update_publisher_profile(
        account=tenant.account, display_name="Acme Tools", bio="Tools <b>for</b> ships.\nAnd boats.",
        logo=logo, actor=actor_of(user),
    )  # fmt: skip
    page = client.get(f"/{tenant.alias}").content.decode()
    assert "Tools &lt;b&gt;for&lt;/b&gt; ships.<br>And boats." in page  # plain text, escaped
    assert f'src="/{tenant.alias}/-/logo?v=' in page
    assert "<h1>Acme Tools" not in page and f"<h1>{tenant.alias}" in page  # the alias until verified

    Account.objects.filter(pk=tenant.id).update(verified=True)
    assert "Acme Tools" in client.get(f"/{tenant.alias}").content.decode().split("<h1>")[1].split("</h1>")[0]

    served = client.get(f"/{tenant.alias}/-/logo")
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg" and served.content == logo
    assert client.get(f"/{tenant.alias}/-/logo", HTTP_IF_NONE_MATCH=served["ETag"]).status_code == 304

    Account.objects.filter(pk=tenant.id).update(suspended_at="2026-01-01T00:00:00Z", suspension_reason="spam")
    assert client.get(f"/{tenant.alias}/-/logo").status_code == 404


def test_a_publisher_without_a_logo_has_none_served(client, tenant):
    assert client.get(f"/{tenant.alias}/-/logo").status_code == 404
    assert client.get("/nobody-here/-/logo").status_code == 404

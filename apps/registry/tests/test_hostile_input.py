"""Hostile input at the registry's edges (/v2/ and /token): JSON nested deep enough
to exhaust Python's parser, names that would break the WWW-Authenticate challenge,
and NUL characters, which PostgreSQL can neither store nor look up. Each is refused
with a 400 in the OCI envelope, alike on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from apps.audit.models import Event
from apps.registry import image_details
from apps.registry.models import Manifest, Tag

pytestmark = pytest.mark.django_db

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DIGEST = "sha256:" + "a" * 64
UPLOAD_ID = "6f1c0f5e-1a7b-4d7e-9a57-3ad0b2f3c111"
HOSTILE = ["%00", "%0a", "%0d%0a", "%0d", "%22", "%20"]
# What a header value may hold (RFC 9110: visible characters, spaces and tabs).
HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
CHALLENGE = re.compile(
    r'Bearer realm="[^"\\]+",service="[^"\\]+"(,scope="(repository:[a-z0-9._/-]+:[a-z,]+|registry:catalog:\*)")?'
    r'(,error="[a-z_]+")?'
)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def errors_of(response) -> list[str]:
    assert response["Content-Type"] == "application/json", response.content[:200]
    return [error["code"] for error in json.loads(response.content)["errors"]]


def assert_headers_well_formed(response) -> None:
    for name, value in response.items():
        assert HEADER_VALUE.fullmatch(value), (name, value)
    if "WWW-Authenticate" in response:
        assert CHALLENGE.fullmatch(response["WWW-Authenticate"]), response["WWW-Authenticate"]


def assert_refused(response, code: str, status: int = 400) -> None:
    if response.request["REQUEST_METHOD"] == "HEAD":  # the envelope's headers, without its body
        assert (response.status_code, response["Content-Type"]) == (status, "application/json")
    else:
        assert (response.status_code, errors_of(response)) == (status, [code]), response.content[:300]
    assert_headers_well_formed(response)


@pytest.fixture
def alice(tenant, registry_client):
    client = registry_client(tenant)
    # A server error is a response to look at, not an exception in the test.
    client.client.raise_request_exception = False
    return client


@pytest.fixture
def pushed(alice, repo):
    """(manifest digest, manifest) of an image in ``repo`` tagged v1."""
    return alice.push_image(repo, "v1")


# -- deeply nested JSON -------------------------------------------------------------


def _schema1(history_entry: str) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 1,
            "name": "x/app",
            "tag": "v1",
            "architecture": "amd64",
            "fsLayers": [{"blobSum": DIGEST}],
            "history": [{"v1Compatibility": history_entry}],
        }
    ).encode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("levels", [10_000, 100_000])
@pytest.mark.parametrize("by", ["tag", "digest"])
def test_deeply_nested_manifests_are_invalid(alice, repo, pushed, levels, by):
    token = alice.token(f"repository:{repo}:pull,push")
    deep = "[" * levels
    bodies = [
        (deep.encode(), OCI_MANIFEST),
        ((deep + "]" * levels).encode(), OCI_MANIFEST),
        # A generic type: the registry reads the document to learn its schema.
        (('{"schemaVersion": 2, "layers": ' + deep).encode(), "application/json"),
        (deep.encode("utf-16"), "application/json"),
        (deep.encode(), SCHEMA1),
        # JSON inside JSON: a schema 1 history entry, and a signature's protected header.
        (_schema1(deep), SCHEMA1),
        (
            json.dumps(
                {
                    **json.loads(_schema1("{}")),
                    "signatures": [
                        {"header": {"alg": "ES256"}, "protected": _b64url(deep.encode()), "signature": "AA"}
                    ],
                }
            ).encode(),
            SCHEMA1_SIGNED,
        ),
    ]
    for body, media_type in bodies:
        reference = "deep" if by == "tag" else sha256(body)
        response = alice.request(
            "PUT", f"/v2/{repo}/manifests/{reference}", token=token, data=body, content_type=media_type
        )
        assert_refused(response, "MANIFEST_INVALID")
        assert "levels deep" in json.loads(response.content)["errors"][0]["message"]
    assert Manifest.objects.count() == 1 and not Tag.objects.filter(name="deep").exists()


def test_a_deeply_nested_image_config_is_not_converted_and_not_recorded(alice, repo):
    config = (
        json.dumps(
            {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "deep": "DEEP"}
        )
        .encode()
        .replace(b'"DEEP"', b"[" * 10_000 + b"]" * 10_000)
    )
    layer = b"layer"
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": alice.push_blob(repo, config), "size": len(config)},
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": alice.push_blob(repo, layer),
                "size": len(layer),
            }
        ],
    }
    assert alice.push_manifest(repo, "v1", manifest).status_code == 201
    # Without an Accept header the client is Docker <= 1.9: the config is read to convert.
    response = alice.request("GET", f"/v2/{repo}/manifests/v1", scope=f"repository:{repo}:pull")
    assert_refused(response, "MANIFEST_INVALID")
    stored = Manifest.objects.get()
    image_details.record(stored)
    stored.refresh_from_db()
    assert stored.platforms == [] and stored.layer_count == 1


# -- repository names outside the grammar -------------------------------------------


def _routes(name: str) -> list[tuple[str, str]]:
    uploads = f"/v2/{name}/blobs/uploads"
    return [
        ("GET", f"/v2/{name}/tags/list"),
        ("GET", f"/v2/{name}/manifests/latest"),
        ("HEAD", f"/v2/{name}/manifests/{DIGEST}"),
        ("PUT", f"/v2/{name}/manifests/latest"),
        ("DELETE", f"/v2/{name}/manifests/{DIGEST}"),
        ("GET", f"/v2/{name}/blobs/{DIGEST}"),
        ("HEAD", f"/v2/{name}/blobs/{DIGEST}"),
        ("DELETE", f"/v2/{name}/blobs/{DIGEST}"),
        ("POST", f"{uploads}/"),
        ("POST", f"{uploads}/?digest={DIGEST}"),
        ("POST", f"{uploads}/?mount={DIGEST}&from=x/app"),
        ("GET", f"{uploads}/{UPLOAD_ID}"),
        ("PATCH", f"{uploads}/{UPLOAD_ID}"),
        ("PUT", f"{uploads}/{UPLOAD_ID}?digest={DIGEST}"),
        ("DELETE", f"{uploads}/{UPLOAD_ID}"),
        ("GET", f"/v2/{name}/referrers/{DIGEST}"),
    ]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_names_outside_the_grammar_are_refused_before_they_are_echoed(alice, tenant, hostile):
    token = alice.token(f"repository:{tenant.id}/app:pull,push,delete")
    events = Event.objects.count()
    names = [
        f"{tenant.id}/a{hostile}b",
        f"{tenant.id}/app{hostile}",
        f"{tenant.alias}{hostile}/app",
        f"a{hostile}b/app",
    ]
    for name in names:
        for method, path in _routes(name):
            for credentials in ({}, {"token": token}):
                response = alice.request(method, path, data=b"{}", **credentials)
                assert_refused(response, "NAME_INVALID")
                assert "WWW-Authenticate" not in response and "Location" not in response
                assert hostile.replace("%", "\\u00") not in response.content.decode(), response.content
    assert Event.objects.count() == events


def test_the_challenge_of_a_name_in_the_grammar_is_well_formed(alice, repo):
    response = alice.request("GET", f"/v2/{repo}/manifests/latest")
    assert response.status_code == 401
    assert_headers_well_formed(response)
    assert response["WWW-Authenticate"].endswith(f',scope="repository:{repo}:pull"')


@pytest.mark.parametrize("hostile", [h for h in HOSTILE if h != "%20"])  # a space separates scopes
def test_the_token_service_refuses_scopes_on_names_outside_the_grammar(alice, tenant, hostile):
    for name in (f"{tenant.id}/a{hostile}b", f"x{hostile}/app"):
        response = alice.client.get(f"/token?service=berth-registry&scope=repository:{name}:pull")
        assert_refused(response, "NAME_INVALID")
        assert hostile.replace("%", "\\u00") not in response.content.decode()
    # Other scope types name no repository; the catalog's still works.
    response = alice.client.get("/token?service=berth-registry&scope=registry:catalog:*")
    assert response.status_code == 200


# -- NUL characters everywhere else ---------------------------------------------------


def test_nul_in_a_tag_is_a_tag_error(alice, repo, pushed):
    digest, manifest = pushed
    token = alice.token(f"repository:{repo}:pull,push,delete")
    body = json.dumps(manifest).encode()
    for tag in ("v1%00", "a%00b", "v1%0a"):
        for method in ("GET", "HEAD", "PUT", "DELETE"):
            response = alice.request(
                method, f"/v2/{repo}/manifests/{tag}", token=token, data=body, content_type=OCI_MANIFEST
            )
            assert_refused(response, "TAG_INVALID")
    assert list(Tag.objects.values_list("name", flat=True)) == ["v1"]


def test_nul_in_a_digest_is_a_digest_error(alice, repo, pushed):
    token = alice.token(f"repository:{repo}:pull,push,delete")
    for digest in ("sha256:%00" + "a" * 63, "sha256%00:" + "a" * 64, DIGEST + "%00"):
        for method, path in (
            ("GET", f"/v2/{repo}/manifests/{digest}"),
            ("GET", f"/v2/{repo}/blobs/{digest}"),
            ("DELETE", f"/v2/{repo}/blobs/{digest}"),
            ("GET", f"/v2/{repo}/referrers/{digest}"),
            ("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}"),
            ("POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={repo}"),
        ):
            assert_refused(alice.request(method, path, token=token), "DIGEST_INVALID")


def test_nul_in_query_parameters_is_refused(alice, repo, pushed):
    digest, _ = pushed
    token = alice.token(f"repository:{repo}:pull,push", "registry:catalog:*")
    for path, code in (
        (f"/v2/{repo}/tags/list?last=a%00", "TAG_INVALID"),
        (f"/v2/{repo}/tags/list?n=1&last=%00", "TAG_INVALID"),
        ("/v2/_catalog?last=a%00", "NAME_INVALID"),
        ("/v2/_catalog?n=1&last=x/a%0ab", "NAME_INVALID"),
        (f"/v2/{repo}/referrers/{digest}?artifactType=application/a%00", "UNSUPPORTED"),
        (f"/v2/{repo}/blobs/uploads/?mount={digest}&from=x/a%00", "NAME_INVALID"),
    ):
        method = "POST" if "uploads" in path else "GET"
        assert_refused(alice.request(method, path, token=token), code)
    # Values in the grammar page as before.
    response = alice.request("GET", f"/v2/{repo}/tags/list?last=a", token=token)
    assert (response.status_code, response.json()["tags"]) == (200, ["v1"])


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_nul_in_token_service_credentials_is_refused(alice, tenant):
    for username, password in (
        (f"{tenant.username}\x00", tenant.password),
        ("a\x00b", "x"),
        (tenant.username, tenant.password + "\x00"),
    ):
        response = alice.client.get("/token?service=berth-registry", HTTP_AUTHORIZATION=_basic(username, password))
        assert_refused(response, "UNSUPPORTED")
        response = alice.client.post(
            "/token",
            {"grant_type": "password", "username": username, "password": password, "service": "berth-registry"},
        )
        assert_refused(response, "UNSUPPORTED")
    response = alice.client.get(
        "/token?service=berth-registry", HTTP_AUTHORIZATION=_basic(tenant.username, tenant.password)
    )
    assert response.status_code == 200


def test_manifests_holding_nul_where_text_is_stored_are_invalid(alice, repo, pushed):
    _, manifest = pushed
    token = alice.token(f"repository:{repo}:pull,push")
    config = manifest["config"]
    for changed in (
        {**manifest, "artifactType": "application/vnd.example\u0000"},
        {**manifest, "artifactType": "application/" + "x" * 300},
        {**manifest, "annotations": {"org.example": "a\u0000b"}},
        {**manifest, "annotations": {"org.example\u0000": "x"}},
        {**manifest, "config": {**config, "mediaType": OCI_CONFIG + "\n"}},
        {**manifest, "config": {**config, "mediaType": OCI_CONFIG + "\u0000"}},
    ):
        body = json.dumps(changed).encode()
        for reference in ("v2", sha256(body)):
            response = alice.request(
                "PUT", f"/v2/{repo}/manifests/{reference}", token=token, data=body, content_type=OCI_MANIFEST
            )
            assert_refused(response, "MANIFEST_INVALID")
    assert Manifest.objects.count() == 1


def test_a_platform_holding_nul_in_an_image_config_is_left_out(alice, repo):
    config = json.dumps(
        {"architecture": "amd64", "os": "linux\u0000", "variant": "", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": alice.push_blob(repo, config), "size": len(config)},
        "layers": [],
    }
    assert alice.push_manifest(repo, "v1", manifest).status_code == 201
    stored = Manifest.objects.get()
    image_details.record(stored)
    stored.refresh_from_db()
    assert stored.platforms == [{"architecture": "amd64"}]


def test_header_values_holding_nul_are_stored_safely_not_refused(alice, repo, pushed, settings):
    settings.BERTH_TRUSTED_PROXIES = "127.0.0.0/8"
    token = alice.token(f"repository:{repo}:pull")
    response = alice.client.get(
        f"/v2/{repo}/manifests/v1",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_ACCEPT=OCI_MANIFEST,
        HTTP_USER_AGENT="docker/\x00evil",
        HTTP_X_FORWARDED_FOR="10.1.2.3\x00, 10.9.9.9",
        HTTP_X_REQUEST_ID="req\x00id",
        REMOTE_ADDR="127.0.0.1",
    )
    assert response.status_code == 200
    assert "\x00" not in response["X-Request-Id"]
    event = Event.objects.filter(event_name="BatchGetImage").latest("sequence")
    assert event.user_agent == "docker/\ufffdevil"
    assert "\x00" not in event.source_ip + event.request_id

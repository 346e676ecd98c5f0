"""Tenant isolation: another account, anonymous callers and wrong passwords get
nothing from a private repository, and cannot tell it from a missing one."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from apps.audit.events import Actor

pytestmark = pytest.mark.django_db


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def victim(tenant, registry_client):
    """A private repository with an image, a tag, a referrer and a blob."""
    alice = registry_client(tenant)
    name = f"{tenant.id}/secret"
    digest, manifest = alice.push_image(name, "v1")
    return {
        "name": name,
        "missing": f"{tenant.id}/does-not-exist",
        "digest": digest,
        "layer": manifest["layers"][0]["digest"],
        "tenant": tenant,
    }


def operations(name: str, victim: dict) -> list[tuple[str, str, str]]:
    """(method, path, scope actions) for every operation on repository ``name``."""
    return [
        ("GET", f"/v2/{name}/manifests/v1", "pull"),
        ("HEAD", f"/v2/{name}/manifests/v1", "pull"),
        ("GET", f"/v2/{name}/manifests/{victim['digest']}", "pull"),
        ("GET", f"/v2/{name}/blobs/{victim['layer']}", "pull"),
        ("HEAD", f"/v2/{name}/blobs/{victim['layer']}", "pull"),
        ("GET", f"/v2/{name}/tags/list", "pull"),
        ("GET", f"/v2/{name}/referrers/{victim['digest']}", "pull"),
        ("POST", f"/v2/{name}/blobs/uploads/", "pull,push"),
        ("PUT", f"/v2/{name}/manifests/v2", "pull,push"),
        ("DELETE", f"/v2/{name}/manifests/{victim['digest']}", "delete"),
        ("DELETE", f"/v2/{name}/manifests/v1", "delete"),
        ("DELETE", f"/v2/{name}/blobs/{victim['layer']}", "delete"),
    ]


def normalise(response, name: str) -> tuple:
    challenge = response.get("WWW-Authenticate", "").replace(name, "<name>")
    return response.status_code, response.content.replace(name.encode(), b"<name>"), challenge


@pytest.mark.parametrize("who", ["other-account", "anonymous", "no-token"])
def test_outsiders_get_the_same_answer_for_private_and_missing(who, victim, other_tenant, registry_client):
    client = registry_client(None if who != "other-account" else other_tenant)
    for (method, path, actions), (_, missing_path, _) in zip(
        operations(victim["name"], victim), operations(victim["missing"], victim)
    ):
        answers = []
        for name, target in ((victim["name"], path), (victim["missing"], missing_path)):
            token = None if who == "no-token" else client.token(f"repository:{name}:{actions}")
            response = client.request(method, target, token=token, data=b"{}", content_type="application/json")
            assert response.status_code == 401, (method, target, response.status_code, response.content)
            answers.append(normalise(response, name))
        assert answers[0] == answers[1], (method, path)


def test_mount_of_a_foreign_blob_is_an_ordinary_upload(victim, other_tenant, registry_client):
    mallory = registry_client(other_tenant)
    target = f"{other_tenant.id}/loot"
    token = mallory.token(f"repository:{target}:pull,push", f"repository:{victim['name']}:pull")
    response = mallory.request(
        "POST", f"/v2/{target}/blobs/uploads/?mount={victim['layer']}&from={victim['name']}", token=token
    )
    assert response.status_code == 202
    response = mallory.request("GET", f"/v2/{target}/blobs/{victim['layer']}", token=token)
    assert response.status_code == 404


def test_knowing_a_digest_does_not_reach_another_tenants_blob(victim, other_tenant, registry_client):
    """Content addressing must not leak: the blob exists, but not in mallory's repository."""
    mallory = registry_client(other_tenant)
    own = f"{other_tenant.id}/mine"
    mallory.push_image(own, "v1")
    token = mallory.token(f"repository:{own}:pull,push")
    assert mallory.request("GET", f"/v2/{own}/blobs/{victim['layer']}", token=token).status_code == 404
    # nor can a manifest reference it without uploading the bytes
    config = mallory.push_blob(own, b"{}")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": victim["layer"], "size": 1025}
        ],
    }
    response = mallory.push_manifest(own, "stolen", manifest)
    assert response.status_code == 400
    assert json.loads(response.content)["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"


def test_wrong_password_gets_no_token(victim, registry_client):
    client = registry_client(victim["tenant"], password="not-the-password")
    auth = base64.b64encode(f"{victim['tenant'].username}:not-the-password".encode()).decode()
    response = client.client.get(
        f"/token?service=berth-registry&scope=repository:{victim['name']}:pull", HTTP_AUTHORIZATION=f"Basic {auth}"
    )
    assert response.status_code == 401


def test_a_token_for_one_repository_does_not_open_another(victim, tenant, registry_client):
    alice = registry_client(tenant)
    token = alice.token(f"repository:{tenant.id}/elsewhere:pull")
    response = alice.request("GET", f"/v2/{victim['name']}/manifests/v1", token=token)
    assert response.status_code == 401
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


def test_catalog_hides_other_accounts(victim, other_tenant, registry_client):
    for client in (registry_client(other_tenant), registry_client(None)):
        response = client.request("GET", "/v2/_catalog", scope="registry:catalog:*")
        assert victim["name"] not in response.json()["repositories"]


def test_private_repository_is_not_reachable_through_the_alias(victim, tenant, registry_client):
    alice = registry_client(tenant)
    name = f"{tenant.alias}/secret"
    response = alice.request("GET", f"/v2/{name}/manifests/v1", scope=f"repository:{name}:pull")
    assert response.status_code == 404
    assert json.loads(response.content)["errors"][0]["code"] == "NAME_UNKNOWN"


def test_making_a_repository_private_revokes_anonymous_tokens(tenant, registry_client):
    from apps.repositories.models import Repository
    from apps.repositories.services import create_repository

    create_repository(actor=Actor.system("test"), account=tenant.account, name="flip", visibility="public")
    registry_client(tenant).push_image(f"{tenant.id}/flip", "v1")
    anonymous = registry_client(None)
    name = f"{tenant.alias}/flip"
    token = anonymous.token(f"repository:{name}:pull")
    assert anonymous.request("GET", f"/v2/{name}/manifests/v1", token=token).status_code == 200
    Repository.objects.filter(name="flip").update(visibility="private")
    assert anonymous.request("GET", f"/v2/{name}/manifests/v1", token=token).status_code == 401


@pytest.mark.parametrize("suffix", ["app%00x", "app%0A", "UPPER"])
def test_names_no_repository_can_have_are_refused_not_crashed(tenant, registry_client, suffix):
    """A NUL byte breaks PostgreSQL queries and a trailing newline slips past `$`."""
    from urllib.parse import unquote

    alice = registry_client(tenant)
    name = f"{tenant.id}/{unquote(suffix)}"
    token = alice.token()
    for method, path in (
        ("GET", f"/v2/{tenant.id}/{suffix}/manifests/v1"),
        ("POST", f"/v2/{tenant.id}/{suffix}/blobs/uploads/"),
    ):
        response = alice.request(method, path, token=token)
        assert response.status_code == 400, (name, response.status_code, response.content)
        assert json.loads(response.content)["errors"][0]["code"] == "NAME_INVALID"
    for scope_name in (f"{tenant.id}/{suffix}", "bad%00ns/app", "x/app%00"):
        response = alice.client.get(f"/token?service=berth-registry&scope=repository:{scope_name}:pull")
        assert response.status_code == 400

"""/api/v1/repositories: Amazon ECR's repository operations over the caller's account."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.conftest import basic_auth
from apps.registry import services as registry_services
from apps.registry.models import Blob, Manifest, Upload
from apps.repositories import services
from apps.repositories.models import Repository, RepositoryTag, TagMutability

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(tenant, api_client) -> APIClient:
    return api_client(tenant)


def create(client, **body):
    return client.post("/api/v1/repositories", body, format="json")


def field_errors(response) -> list[tuple[str, str]]:
    body = response.json()
    assert response.status_code == 400 and body["code"] == "invalid", body
    return [(e["field"], e["code"]) for e in body["errors"]]


# -- create and describe ------------------------------------------------------------


def test_create_with_every_setting(tenant, alice):
    response = create(
        alice,
        name="team/app",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=["latest", "dev-*"],
        scanOnPush=True,
        tags=[{"key": "team", "value": "platform"}, {"key": "cost center", "value": ""}],
        encryptionConfiguration={"encryptionType": "AES256"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "encryptionConfiguration": {"encryptionType": "AES256"},
        "name": "team/app",
        "accountId": tenant.id,
        "visibility": "private",
        "uri": f"testserver/{tenant.id}/team/app",
        "createdAt": body["createdAt"],
        "updatedAt": body["updatedAt"],
        "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": ["latest", "dev-*"],
        "scanOnPush": True,
        "tags": [{"key": "cost center", "value": ""}, {"key": "team", "value": "platform"}],
        "imageCount": 0,
        "totalSize": 0,
        "referencedBytes": 0,
        "exclusiveBytes": 0,
    }
    assert alice.get("/api/v1/repositories/team/app").json() == body


def test_defaults_and_public_uri(tenant, alice, settings):
    settings.BERTH_PUBLIC_URL = "https://registry.example.com"
    body = create(alice, name="tools/cli", visibility="public").json()
    assert body["uri"] == f"registry.example.com/{tenant.alias}/tools/cli"
    assert (body["imageTagMutability"], body["imageTagMutabilityExclusionFilters"]) == ("MUTABLE", [])
    assert body["scanOnPush"] is False and body["tags"] == []


def test_a_name_is_created_once(alice):
    assert create(alice, name="app").status_code == 201
    again = create(alice, name="app")
    assert again.status_code == 409
    assert again.json()["code"] == "repository_already_exists"


def test_other_accounts_may_use_the_same_name(alice, other_tenant, api_client):
    assert create(alice, name="app").status_code == 201
    assert create(api_client(other_tenant), name="app").status_code == 201


@pytest.mark.parametrize(
    "body, errors",
    [
        ({}, [("name", "required")]),
        ({"name": "Upper/Case"}, [("name", "invalid")]),
        ({"name": "a" * 257}, [("name", "max_length")]),
        ({"name": "app", "visibility": "secret"}, [("visibility", "invalid_choice")]),
        ({"name": "app", "imageTagMutability": "SOMETIMES"}, [("imageTagMutability", "invalid_choice")]),
        (
            {"name": "app", "imageTagMutability": "IMMUTABLE", "imageTagMutabilityExclusionFilters": ["latest"]},
            [("imageTagMutabilityExclusionFilters", "invalid")],
        ),
        (
            {"name": "app", "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION"},
            [("imageTagMutabilityExclusionFilters", "required")],
        ),
        (
            {
                "name": "app",
                "imageTagMutability": "MUTABLE_WITH_EXCLUSION",
                "imageTagMutabilityExclusionFilters": ["a", "b", "c", "d", "e", "f"],
            },
            [("imageTagMutabilityExclusionFilters", "max_length")],
        ),
        (
            {
                "name": "app",
                "imageTagMutability": "MUTABLE_WITH_EXCLUSION",
                "imageTagMutabilityExclusionFilters": ["v?"],
            },
            [("imageTagMutabilityExclusionFilters.0", "invalid")],
        ),
        ({"name": "app", "scanOnPush": "perhaps"}, [("scanOnPush", "invalid")]),
        ({"name": "app", "tags": [{"key": "k" * 129, "value": "v"}]}, [("tags.0.key", "max_length")]),
        ({"name": "app", "tags": [{"key": "k", "value": "v" * 257}]}, [("tags.0.value", "max_length")]),
        ({"name": "app", "tags": [{"key": "", "value": "v"}]}, [("tags.0.key", "blank")]),
        ({"name": "app", "tags": [{"key": "k;drop", "value": "v"}]}, [("tags.0.key", "invalid")]),
        ({"name": "app", "tags": [{"value": "v"}]}, [("tags.0.key", "required")]),
        ({"name": "app", "tags": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]}, [("tags", "unique")]),
        ({"name": "app", "tags": [{"key": f"k{i}", "value": ""} for i in range(201)]}, [("tags", "max_length")]),
    ],
)
def test_create_validation_errors_have_codes(alice, body, errors):
    response = create(alice, **body)
    assert field_errors(response) == errors
    assert not Repository.objects.exists()


def test_two_hundred_tags_are_allowed(alice):
    tags = [{"key": f"k{i:03}", "value": "v"} for i in range(200)]
    assert create(alice, name="app", tags=tags).status_code == 201
    assert RepositoryTag.objects.count() == 200


def test_describe_counts_images_and_sums_their_sizes(
    tenant, alice, registry_client, django_capture_on_commit_callbacks
):
    create(alice, name="app")
    pusher = registry_client(tenant)
    with django_capture_on_commit_callbacks(execute=True):  # the worker measures each image
        pusher.push_image(f"{tenant.id}/app", "v1", layers=2, seed=b"a")
        pusher.push_image(f"{tenant.id}/app", "v2", layers=1, seed=b"b")
    expected = sum(m.total_size for m in Manifest.objects.all())
    assert expected > 2 * 1024
    body = alice.get("/api/v1/repositories/app").json()
    assert (body["imageCount"], body["totalSize"]) == (2, expected)

    Manifest.objects.filter(digest=Manifest.objects.first().digest).update(total_size=None)  # not yet measured
    body = alice.get("/api/v1/repositories/app").json()
    assert (body["imageCount"], body["totalSize"]) == (2, None)


def test_an_index_counts_its_entries_not_itself(tenant, alice, registry_client, django_capture_on_commit_callbacks):
    create(alice, name="app")
    pusher = registry_client(tenant)
    name = f"{tenant.id}/app"
    entries = []
    with django_capture_on_commit_callbacks(execute=True):
        for platform in ("amd64", "arm64"):
            digest, manifest = pusher.push_image(name, platform, seed=platform.encode())
            entries.append(
                {"mediaType": manifest["mediaType"], "digest": digest, "size": Manifest.objects.get(digest=digest).size}
            )
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
        assert pusher.push_manifest(name, "multi", index).status_code == 201
    assert Manifest.objects.count() == 3
    sizes = sum(m.total_size for m in Manifest.objects.exclude(media_type__endswith="index.v1+json"))
    body = alice.get("/api/v1/repositories/app").json()
    assert (body["imageCount"], body["totalSize"]) == (2, sizes)


# -- listing ------------------------------------------------------------------------


def test_list_pages_with_a_next_token(alice):
    names = ["a/one", "a/two", "b", "c/x", "d"]
    for name in reversed(names):
        assert create(alice, name=name).status_code == 201
    seen, token, pages = [], None, 0
    while True:
        query = "?max_results=2" + (f"&next={token}" if token else "")
        response = alice.get(f"/api/v1/repositories{query}")
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [r["name"] for r in body["repositories"]]
        pages += 1
        token = body["next"]
        if token is None:
            break
    assert seen == sorted(names) and pages == 3


def test_list_filters_by_prefix_and_defaults_to_a_hundred(alice, tenant):
    for i in range(102):
        services.create_repository(actor=Actor.system("test"), account=tenant.account, name=f"team/app{i:03}")
    services.create_repository(actor=Actor.system("test"), account=tenant.account, name="other")
    body = alice.get("/api/v1/repositories?name_prefix=team/").json()
    assert len(body["repositories"]) == 100 and body["next"]
    rest = alice.get(f"/api/v1/repositories?name_prefix=team/&next={body['next']}").json()
    assert [r["name"] for r in rest["repositories"]] == ["team/app100", "team/app101"] and rest["next"] is None


@pytest.mark.parametrize(
    "query, errors",
    [
        ("max_results=0", [("max_results", "min_value")]),
        ("max_results=1001", [("max_results", "max_value")]),
        ("max_results=ten", [("max_results", "invalid")]),
        ("next=forged", [("next", "invalid")]),
    ],
)
def test_list_validation(alice, query, errors):
    assert field_errors(alice.get(f"/api/v1/repositories?{query}")) == errors


def test_list_shows_only_the_callers_account(alice, tenant, other_tenant):
    services.create_repository(actor=Actor.system("test"), account=tenant.account, name="mine")
    services.create_repository(
        actor=Actor.system("test"), account=other_tenant.account, name="theirs", visibility="public"
    )
    assert [r["name"] for r in alice.get("/api/v1/repositories").json()["repositories"]] == ["mine"]


# -- settings -----------------------------------------------------------------------


def test_patch_changes_only_what_it_is_given(alice):
    create(alice, name="app", tags=[{"key": "a", "value": "1"}])
    response = alice.patch("/api/v1/repositories/app", {"scanOnPush": True}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["scanOnPush"] is True and body["tags"] == [{"key": "a", "value": "1"}]
    assert body["visibility"] == "private"

    body = alice.patch(
        "/api/v1/repositories/app",
        {
            "visibility": "public",
            "tags": [{"key": "b", "value": "2"}],
            "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
            "imageTagMutabilityExclusionFilters": ["latest"],
        },
        format="json",
    ).json()
    assert body["visibility"] == "public" and body["tags"] == [{"key": "b", "value": "2"}]
    assert body["imageTagMutabilityExclusionFilters"] == ["latest"]

    # Filters alone apply to the current setting; a setting alone drops filters it cannot have.
    body = alice.patch(
        "/api/v1/repositories/app", {"imageTagMutabilityExclusionFilters": ["dev-*"]}, format="json"
    ).json()
    assert (body["imageTagMutability"], body["imageTagMutabilityExclusionFilters"]) == (
        "IMMUTABLE_WITH_EXCLUSION",
        ["dev-*"],
    )
    body = alice.patch("/api/v1/repositories/app", {"imageTagMutability": "IMMUTABLE"}, format="json").json()
    assert (body["imageTagMutability"], body["imageTagMutabilityExclusionFilters"]) == ("IMMUTABLE", [])


def test_patch_validation(alice):
    create(alice, name="app")
    response = alice.patch(
        "/api/v1/repositories/app", {"imageTagMutabilityExclusionFilters": ["latest"]}, format="json"
    )
    assert field_errors(response) == [("imageTagMutabilityExclusionFilters", "invalid")]
    response = alice.patch("/api/v1/repositories/app", {"imageTagMutability": "MUTABLE_WITH_EXCLUSION"}, format="json")
    assert field_errors(response) == [("imageTagMutabilityExclusionFilters", "required")]
    assert Repository.objects.get().image_tag_mutability == TagMutability.MUTABLE


def test_put_image_tag_mutability(alice):
    create(alice, name="team/app")
    url = "/api/v1/repositories/team/app/-/image-tag-mutability"
    response = alice.put(
        url,
        {"imageTagMutability": "MUTABLE_WITH_EXCLUSION", "imageTagMutabilityExclusionFilters": ["release-*"]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "imageTagMutability": "MUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": ["release-*"],
    }
    repository = Repository.objects.get()
    assert repository.image_tag_mutability_exclusion_filters == ["release-*"]
    # PUT replaces the whole setting.
    assert alice.put(url, {"imageTagMutability": "IMMUTABLE"}, format="json").json() == {
        "imageTagMutability": "IMMUTABLE",
        "imageTagMutabilityExclusionFilters": [],
    }
    assert field_errors(alice.put(url, {}, format="json")) == [("imageTagMutability", "required")]
    assert field_errors(
        alice.put(url, {"imageTagMutability": "MUTABLE", "imageTagMutabilityExclusionFilters": ["x"]}, format="json")
    ) == [("imageTagMutabilityExclusionFilters", "invalid")]


def test_a_repository_named_like_the_sub_resource_is_still_addressable(alice):
    assert create(alice, name="team/image-tag-mutability").status_code == 201
    assert alice.get("/api/v1/repositories/team/image-tag-mutability").json()["name"] == "team/image-tag-mutability"


# -- delete -------------------------------------------------------------------------


def test_delete_an_empty_repository(alice):
    create(alice, name="app")
    assert alice.delete("/api/v1/repositories/app").status_code == 204
    assert not Repository.objects.exists()
    assert alice.get("/api/v1/repositories/app").status_code == 404


def test_delete_refuses_a_repository_with_images_unless_forced(
    tenant, alice, registry_client, django_capture_on_commit_callbacks
):
    create(alice, name="app")
    pusher = registry_client(tenant)
    name = f"{tenant.id}/app"
    digest, manifest = pusher.push_image(name, "v1")
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": manifest["mediaType"], "digest": digest, "size": Manifest.objects.get(digest=digest).size}
        ],
    }
    assert pusher.push_manifest(name, "multi", index).status_code == 201
    started = pusher.request("POST", f"/v2/{name}/blobs/uploads/", scope=f"repository:{name}:pull,push")
    assert started.status_code == 202

    refused = alice.delete("/api/v1/repositories/app")
    assert refused.status_code == 409
    assert refused.json()["code"] == "repository_not_empty"
    assert "force" in refused.json()["detail"]
    assert Manifest.objects.count() == 2

    assert field_errors(alice.delete("/api/v1/repositories/app?force=maybe")) == [("force", "invalid")]
    spooled = registry_services.upload_area().path(str(Upload.objects.get().id))
    assert spooled.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert alice.delete("/api/v1/repositories/app?force=true").status_code == 204
    assert not Repository.objects.exists() and not Manifest.objects.exists() and not Upload.objects.exists()
    assert not spooled.exists()  # once the delete committed
    assert Blob.objects.exists()  # blobs are shared, content addressed: collected elsewhere
    # The name is free again, and a push recreates nothing of the old content.
    assert create(alice, name="app").json()["imageCount"] == 0


# -- who may do what ----------------------------------------------------------------


def test_another_accounts_repository_is_not_found(alice, other_tenant):
    services.create_repository(
        actor=Actor.system("test"), account=other_tenant.account, name="theirs", visibility="public"
    )
    for method, url, body in [
        ("get", "/api/v1/repositories/theirs", None),
        ("patch", "/api/v1/repositories/theirs", {"scanOnPush": True}),
        ("delete", "/api/v1/repositories/theirs?force=true", None),
        ("put", "/api/v1/repositories/theirs/-/image-tag-mutability", {"imageTagMutability": "IMMUTABLE"}),
    ]:
        response = getattr(alice, method)(url, body, format="json")
        assert response.status_code == 404, (method, response.content)
        assert response.json()["code"] == "not_found"
    theirs = Repository.objects.get(name="theirs")
    assert theirs.scan_on_push is False and theirs.image_tag_mutability == TagMutability.MUTABLE


def test_anonymous_callers_are_asked_to_authenticate():
    client = APIClient()
    for method in ("get", "post"):
        response = getattr(client, method)("/api/v1/repositories")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
    assert client.get("/api/v1/repositories/app").status_code == 401


def test_a_user_outside_any_account_owns_no_repositories(db):
    operator = get_user_model().objects.create_user(username="operator", password="x")
    new_key = account_services.create_access_key(actor=Actor.system("test"), user=operator)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(new_key.access_key.access_key_id, new_key.secret))
    response = client.get("/api/v1/repositories")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    # Its access keys are its own business.
    assert client.get("/api/v1/access-keys").status_code == 200

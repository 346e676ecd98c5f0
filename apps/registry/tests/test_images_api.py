"""/api/v1/repositories/<name>/-/images...: Amazon ECR's image operations over the
caller's account, on the same content the registry API serves."""

from __future__ import annotations

import hashlib
import json
import os
import time
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.conftest import basic_auth
from apps.registry import services
from apps.registry.content import media_types as mt
from apps.registry.models import Manifest, ManifestConversion, Tag, TagHistory
from apps.repositories import services as repository_services
from apps.repositories.models import TagMutability

pytestmark = pytest.mark.django_db

IMAGES = "/api/v1/repositories/team/app/-/images"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MODERN = ", ".join(sorted(mt.MANIFEST_TYPES))


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def _no_pulls_remembered():
    """The pull times a process remembers outlive a test's rolled-back rows (and their ids)."""
    services.recorded_pulls.clear()
    yield
    services.recorded_pulls.clear()


@pytest.fixture
def alice(tenant, api_client) -> APIClient:
    return api_client(tenant)


@pytest.fixture
def repository(tenant):
    return repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="team/app")


@pytest.fixture
def name(tenant, repository) -> str:
    """The repository as the registry API addresses it."""
    return f"{tenant.id}/team/app"


@pytest.fixture
def pusher(tenant, registry_client):
    return registry_client(tenant)


def body_of(manifest: dict) -> bytes:
    """The bytes RegistryClient.push_image sends."""
    return json.dumps(manifest).encode()


def push_untagged(pusher, name: str, *, seed: bytes) -> str:
    digest, _ = pusher.push_image(name, "scratch", seed=seed)
    response = pusher.request("DELETE", f"/v2/{name}/manifests/scratch", scope=f"repository:{name}:delete")
    assert response.status_code == 202
    return digest


def tag(pusher, name: str, reference: str, manifest: dict) -> None:
    assert pusher.push_manifest(name, reference, manifest).status_code == 201


def push_docker_image(pusher, name: str, reference: str, *, architecture: str = "amd64") -> tuple[str, bytes]:
    layer = os.urandom(300)
    config = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "ADD file:abc in /"}],
        }
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST,
        "config": {"mediaType": mt.DOCKER_CONFIG, "digest": pusher.push_blob(name, config), "size": len(config)},
        "layers": [{"mediaType": DOCKER_LAYER, "digest": pusher.push_blob(name, layer), "size": len(layer)}],
    }
    body = json.dumps(manifest, indent=3).encode()  # stored byte for byte, indentation and all
    response = pusher.push_manifest(name, reference, body, media_type=mt.DOCKER_MANIFEST)
    assert response.status_code == 201, response.content
    return response["Docker-Content-Digest"], body


def push_index(pusher, name: str, reference: str, entries: list[tuple[str, bytes, str]], media_type: str) -> str:
    child_type = mt.DOCKER_MANIFEST if media_type == mt.DOCKER_MANIFEST_LIST else mt.OCI_MANIFEST
    index = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {
                "mediaType": child_type,
                "digest": digest,
                "size": len(body),
                "platform": {"os": "linux", "architecture": architecture},
            }
            for digest, body, architecture in entries
        ],
    }
    response = pusher.push_manifest(name, reference, index)
    assert response.status_code == 201, response.content
    return response["Docker-Content-Digest"]


def push_helm_chart(pusher, name: str, reference: str) -> tuple[str, bytes]:
    config, chart = b'{"name":"chart","version":"1.0.0"}', b"chart bytes"
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.HELM_CONFIG, "digest": pusher.push_blob(name, config), "size": len(config)},
        "layers": [{"mediaType": HELM_CHART, "digest": pusher.push_blob(name, chart), "size": len(chart)}],
    }
    response = pusher.push_manifest(name, reference, manifest)
    assert response.status_code == 201, response.content
    return response["Docker-Content-Digest"], body_of(manifest)


def field_errors(response) -> list[tuple[str, str]]:
    body = response.json()
    assert response.status_code == 400 and body["code"] == "invalid", body
    return [(e["field"], e["code"]) for e in body["errors"]]


def image_ids(response) -> list[tuple[str, str | None]]:
    assert response.status_code == 200, response.content
    return [(i["imageDigest"], i.get("imageTag")) for i in response.json()["imageIds"]]


def failures(response) -> list[tuple[dict, str]]:
    assert response.status_code == 200, response.content
    return [(f["imageId"], f["failureCode"]) for f in response.json()["failures"]]


def batch_get(client, image_ids: list[dict], accepted: list[str] | None = None):
    body = {"imageIds": image_ids, **({"acceptedMediaTypes": accepted} if accepted is not None else {})}
    return client.post(f"{IMAGES}/batch-get", body, format="json")


def batch_delete(client, image_ids: list[dict]):
    return client.post(f"{IMAGES}/batch-delete", {"imageIds": image_ids}, format="json")


def put_image(client, manifest: bytes | str, **fields):
    text = manifest.decode() if isinstance(manifest, bytes) else manifest
    return client.post(IMAGES, {"imageManifest": text, **fields}, format="json")


def v2_get(pusher, name: str, reference: str, accept: str | None = MODERN, method: str = "GET"):
    headers = {"Accept": accept} if accept is not None else {}
    return pusher.request(method, f"/v2/{name}/manifests/{reference}", scope=f"repository:{name}:pull", headers=headers)


@pytest.fixture
def three_images(pusher, name):
    """A tagged a1 and a2, B untagged, C tagged c1: pushed in that order."""
    a, a_manifest = pusher.push_image(name, "a2", seed=b"a")
    tag(pusher, name, "a1", a_manifest)
    b = push_untagged(pusher, name, seed=b"b")
    c, _ = pusher.push_image(name, "c1", seed=b"c")
    return a, b, c


# -- ListImages ---------------------------------------------------------------------


def test_list_images_gives_one_id_per_tag_and_one_per_untagged_image(alice, three_images):
    a, b, c = three_images
    assert image_ids(alice.get(IMAGES)) == [(a, "a1"), (a, "a2"), (b, None), (c, "c1")]
    assert image_ids(alice.get(f"{IMAGES}?tagStatus=TAGGED")) == [(a, "a1"), (a, "a2"), (c, "c1")]
    assert image_ids(alice.get(f"{IMAGES}?tagStatus=UNTAGGED")) == [(b, None)]
    assert image_ids(alice.get(f"{IMAGES}?tagStatus=ANY")) == [(a, "a1"), (a, "a2"), (b, None), (c, "c1")]
    assert alice.get(IMAGES).json()["imageIds"][2] == {"imageDigest": b}  # no imageTag at all


@pytest.mark.parametrize("tag_status", ["ANY", "TAGGED", "UNTAGGED"])
@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_list_images_pages_with_a_next_token(alice, pusher, name, three_images, tag_status, page_size):
    push_untagged(pusher, name, seed=b"d")
    everything = image_ids(alice.get(f"{IMAGES}?tagStatus={tag_status}"))
    seen, token, pages = [], None, 0
    while True:
        query = f"?tagStatus={tag_status}&max_results={page_size}" + (f"&next={token}" if token else "")
        response = alice.get(f"{IMAGES}{query}")
        page = image_ids(response)
        assert 0 < len(page) <= page_size
        seen += page
        pages += 1
        token = response.json()["next"]
        if token is None:
            break
    assert seen == everything
    assert pages == -(-len(everything) // page_size)


def test_an_index_and_its_entries_are_images_of_their_own(alice, pusher, name):
    amd, amd_manifest = pusher.push_image(name, "amd64", seed=b"amd")
    arm = push_untagged(pusher, name, seed=b"arm")
    arm_body = Manifest.objects.get(digest=arm).content
    index = push_index(
        pusher, name, "multi", [(amd, body_of(amd_manifest), "amd64"), (arm, bytes(arm_body), "arm64")], mt.OCI_INDEX
    )
    assert image_ids(alice.get(IMAGES)) == [(amd, "amd64"), (arm, None), (index, "multi")]


@pytest.mark.parametrize(
    "query, errors",
    [
        ("tagStatus=SOMETIMES", [("tagStatus", "invalid_choice")]),
        ("max_results=0", [("max_results", "min_value")]),
        ("max_results=1001", [("max_results", "max_value")]),
        ("max_results=ten", [("max_results", "invalid")]),
        ("next=forged", [("next", "invalid")]),
    ],
)
def test_list_and_describe_validation(alice, repository, query, errors):
    assert field_errors(alice.get(f"{IMAGES}?{query}")) == errors
    assert field_errors(alice.get(f"{IMAGES}/describe?{query}")) == errors


def test_a_next_token_serves_only_the_listing_it_came_from(alice, tenant, three_images):
    list_token = alice.get(f"{IMAGES}?max_results=1").json()["next"]
    describe_token = alice.get(f"{IMAGES}/describe?max_results=1").json()["next"]
    assert list_token and describe_token
    assert field_errors(alice.get(f"{IMAGES}/describe?next={list_token}")) == [("next", "invalid")]
    assert field_errors(alice.get(f"{IMAGES}?next={describe_token}")) == [("next", "invalid")]
    repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="team/other")
    other = "/api/v1/repositories/team/other/-/images"
    response = alice.get(f"{other}?next={list_token}")
    assert field_errors(response) == [("next", "invalid")]
    assert "another listing" in response.json()["detail"]


def test_a_repository_named_like_the_sub_resource_is_still_addressable(alice, tenant):
    repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="team/images")
    assert alice.get("/api/v1/repositories/team/images").json()["name"] == "team/images"
    assert alice.get("/api/v1/repositories/team/images/-/images").json() == {"imageIds": [], "next": None}


# -- DescribeImages -----------------------------------------------------------------


def test_describe_images_shows_what_ecr_shows(alice, tenant, pusher, name, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the worker measures each image
        digest, manifest = pusher.push_image(name, "v1", layers=2, seed=b"one")
        tag(pusher, name, "latest", manifest)
    stored = Manifest.objects.get(digest=digest)
    assert stored.total_size > 2048
    body = alice.get(f"{IMAGES}/describe").json()
    assert body == {
        "imageDetails": [
            {
                "registryId": tenant.id,
                "repositoryName": "team/app",
                "imageDigest": digest,
                "imageTags": ["latest", "v1"],
                "imageSizeInBytes": stored.total_size,
                "imagePushedAt": body["imageDetails"][0]["imagePushedAt"],
                "imageManifestMediaType": mt.OCI_MANIFEST,
                "artifactMediaType": mt.OCI_CONFIG,
                "lastRecordedPullTime": None,
                "layerCount": 2,
                "platforms": [{"os": "linux", "architecture": "amd64"}],
                # never scanned (apps/scanning/tests has images that are)
                "imageScanStatus": None,
                "imageScanFindingsSummary": None,
            }
        ],
        "next": None,
    }
    assert body["imageDetails"][0]["imagePushedAt"].startswith(str(stored.created_at.year))


def test_describe_images_of_an_index_an_artifact_and_an_unmeasured_image(
    alice, pusher, name, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        amd, amd_body = push_docker_image(pusher, name, "amd64", architecture="amd64")
        arm, arm_body = push_docker_image(pusher, name, "arm64", architecture="arm64")
        index = push_index(
            pusher, name, "multi", [(amd, amd_body, "amd64"), (arm, arm_body, "arm64")], mt.DOCKER_MANIFEST_LIST
        )
        chart, _ = push_helm_chart(pusher, name, "chart")
    unmeasured, _ = pusher.push_image(name, "fresh", seed=b"fresh")  # its worker has not run
    details = {d["imageDigest"]: d for d in alice.get(f"{IMAGES}/describe").json()["imageDetails"]}
    assert list(details) == [amd, arm, index, chart, unmeasured]
    assert details[amd]["artifactMediaType"] == mt.DOCKER_CONFIG
    assert details[amd]["imageManifestMediaType"] == mt.DOCKER_MANIFEST
    assert details[index]["imageManifestMediaType"] == mt.DOCKER_MANIFEST_LIST
    assert details[index]["artifactMediaType"] is None and details[index]["layerCount"] is None
    assert details[index]["platforms"] == [
        {"os": "linux", "architecture": "amd64"},
        {"os": "linux", "architecture": "arm64"},
    ]
    assert details[index]["imageSizeInBytes"] == details[amd]["imageSizeInBytes"] + details[arm]["imageSizeInBytes"]
    assert details[chart]["artifactMediaType"] == mt.HELM_CONFIG and details[chart]["layerCount"] == 1
    assert details[unmeasured]["imageSizeInBytes"] is None and details[unmeasured]["layerCount"] is None


def test_describe_images_filters_and_pages(alice, three_images):
    a, b, c = three_images

    def digests(response):
        assert response.status_code == 200, response.content
        return [d["imageDigest"] for d in response.json()["imageDetails"]]

    assert digests(alice.get(f"{IMAGES}/describe")) == [a, b, c]
    assert digests(alice.get(f"{IMAGES}/describe?tagStatus=TAGGED")) == [a, c]
    assert digests(alice.get(f"{IMAGES}/describe?tagStatus=UNTAGGED")) == [b]
    first = alice.get(f"{IMAGES}/describe?max_results=2")
    assert digests(first) == [a, b]
    rest = alice.get(f"{IMAGES}/describe?max_results=2&next={first.json()['next']}")
    assert digests(rest) == [c] and rest.json()["next"] is None
    # The POST form pages the same way.
    posted = alice.post(f"{IMAGES}/describe", {"tagStatus": "TAGGED", "max_results": 1}, format="json")
    assert digests(posted) == [a]
    posted = alice.post(f"{IMAGES}/describe", {"tagStatus": "TAGGED", "next": posted.json()["next"]}, format="json")
    assert digests(posted) == [c]
    assert digests(alice.post(f"{IMAGES}/describe", {}, format="json")) == [a, b, c]


def test_describe_images_by_image_ids(alice, three_images):
    a, b, c = three_images
    response = alice.post(
        f"{IMAGES}/describe",
        {
            "imageIds": [
                {"imageTag": "c1"},
                {"imageDigest": a},
                {"imageTag": "a2"},
                {"imageDigest": b},
                {"imageTag": "a1", "imageDigest": a},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(d["imageDigest"], d["imageTags"]) for d in body["imageDetails"]] == [
        (c, ["c1"]),
        (a, ["a1", "a2"]),
        (b, []),
    ]
    assert body["next"] is None


@pytest.mark.parametrize(
    "image_id, status, code, field",
    [
        ({"imageTag": "nope"}, 404, "image_not_found", None),
        ({"imageDigest": "sha256:" + "0" * 64}, 404, "image_not_found", None),
        ({"imageDigest": "sha256:xyz"}, 400, "invalid_image_digest", "imageIds.1"),
        ({"imageTag": "bad tag!"}, 400, "invalid_image_tag", "imageIds.1"),
        ({}, 400, "missing_digest_and_tag", "imageIds.1"),
        ({"imageTag": "c1", "imageDigest": "A"}, 400, "image_tag_does_not_match_digest", "imageIds.1"),
    ],
)
def test_describe_images_by_ids_refuses_an_id_that_names_no_image(alice, three_images, image_id, status, code, field):
    a, _, _ = three_images
    image_id = {k: (a if v == "A" else v) for k, v in image_id.items()}
    response = alice.post(f"{IMAGES}/describe", {"imageIds": [{"imageTag": "a1"}, image_id]}, format="json")
    assert response.status_code == status, response.content
    if field is None:
        assert response.json()["code"] == code
    else:
        assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]


@pytest.mark.parametrize(
    "body, errors",
    [
        ({"imageIds": []}, [("imageIds", "min_length")]),
        ({"imageIds": [{"imageTag": f"t{i}"} for i in range(101)]}, [("imageIds", "max_length")]),
        ({"imageIds": [{"imageTag": "a1"}], "tagStatus": "TAGGED"}, [("non_field_errors", "invalid")]),
        ({"imageIds": [{"imageTag": "a1"}], "max_results": 5, "next": "x"}, [("non_field_errors", "invalid")]),
        ({"imageIds": [{"imageTag": "t" * 301}]}, [("imageIds.0.imageTag", "max_length")]),
        ({"tagStatus": "MAYBE"}, [("tagStatus", "invalid_choice")]),
    ],
)
def test_describe_images_post_validation(alice, repository, body, errors):
    assert field_errors(alice.post(f"{IMAGES}/describe", body, format="json")) == errors


def test_a_hundred_image_ids_are_allowed(alice, three_images):
    ids = [{"imageTag": "a1"}] * 100
    assert alice.post(f"{IMAGES}/describe", {"imageIds": ids}, format="json").status_code == 200
    assert batch_get(alice, ids).status_code == 200
    assert batch_delete(alice, ids).status_code == 200


# -- BatchGetImage ------------------------------------------------------------------


def test_batch_get_image_by_tag_digest_or_both(alice, tenant, pusher, name):
    digest, manifest = pusher.push_image(name, "v1", seed=b"one")
    response = batch_get(
        alice, [{"imageTag": "v1"}, {"imageDigest": digest}, {"imageTag": "v1", "imageDigest": digest}]
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["failures"] == []
    image = {
        "registryId": tenant.id,
        "repositoryName": "team/app",
        "imageManifest": body_of(manifest).decode(),
        "imageManifestMediaType": mt.OCI_MANIFEST,
    }
    assert body["images"] == [
        {**image, "imageId": {"imageDigest": digest, "imageTag": "v1"}},
        {**image, "imageId": {"imageDigest": digest}},
        {**image, "imageId": {"imageDigest": digest, "imageTag": "v1"}},
    ]


def test_batch_get_image_fails_each_id_on_its_own(alice, pusher, name):
    digest, _ = pusher.push_image(name, "v1", seed=b"one")
    other, _ = pusher.push_image(name, "v2", seed=b"two")
    unknown = "sha256:" + "0" * 64
    response = batch_get(
        alice,
        [
            {},
            {"imageDigest": "sha256:xyz"},
            {"imageDigest": "md5:" + "0" * 32},
            {"imageTag": "bad tag!"},
            {"imageTag": ".hidden"},
            {"imageTag": "v1\n"},
            {"imageTag": "nope"},
            {"imageDigest": unknown},
            {"imageTag": "v1", "imageDigest": other},
            {"imageTag": "nope", "imageDigest": digest},
            {"imageTag": "v1"},
            {"imageTag": "v1"},
        ],
    )
    assert [i["imageId"] for i in response.json()["images"]] == [{"imageDigest": digest, "imageTag": "v1"}]
    assert failures(response) == [
        ({}, "MissingDigestAndTag"),
        ({"imageDigest": "sha256:xyz"}, "InvalidImageDigest"),
        ({"imageDigest": "md5:" + "0" * 32}, "InvalidImageDigest"),
        ({"imageTag": "bad tag!"}, "InvalidImageTag"),
        ({"imageTag": ".hidden"}, "InvalidImageTag"),
        ({"imageTag": "v1\n"}, "InvalidImageTag"),
        ({"imageTag": "nope"}, "ImageNotFound"),
        ({"imageDigest": unknown}, "ImageNotFound"),
        ({"imageDigest": other, "imageTag": "v1"}, "ImageTagDoesNotMatchDigest"),
        ({"imageDigest": digest, "imageTag": "nope"}, "ImageNotFound"),
    ]
    reasons = [f["failureReason"] for f in response.json()["failures"]]
    assert all(reasons) and f"points at {digest}" in reasons[8]


@pytest.mark.parametrize(
    "body, errors",
    [
        ({}, [("imageIds", "required")]),
        ({"imageIds": []}, [("imageIds", "min_length")]),
        ({"imageIds": [{"imageTag": f"t{i}"} for i in range(101)]}, [("imageIds", "max_length")]),
        ({"imageIds": [{"imageTag": "v1"}], "acceptedMediaTypes": []}, [("acceptedMediaTypes", "min_length")]),
        ({"imageIds": [{"imageTag": "v1"}], "acceptedMediaTypes": ["x"] * 101}, [("acceptedMediaTypes", "max_length")]),
        ({"imageIds": [{"imageTag": ""}]}, [("imageIds.0.imageTag", "blank")]),
        ({"imageIds": "v1"}, [("imageIds", "not_a_list")]),
    ],
)
def test_batch_validation(alice, repository, body, errors):
    assert field_errors(alice.post(f"{IMAGES}/batch-get", body, format="json")) == errors
    if "acceptedMediaTypes" not in body:
        assert field_errors(alice.post(f"{IMAGES}/batch-delete", body, format="json")) == errors


def test_batch_get_image_converts_by_tag_exactly_as_a_registry_pull(alice, pusher, name):
    digest, stored = push_docker_image(pusher, name, "v1")
    as_stored = batch_get(alice, [{"imageTag": "v1"}]).json()["images"][0]
    assert as_stored["imageManifest"] == stored.decode() and as_stored["imageId"]["imageDigest"] == digest

    converted = batch_get(alice, [{"imageTag": "v1"}], [mt.OCI_MANIFEST, mt.OCI_INDEX]).json()["images"][0]
    assert converted["imageManifestMediaType"] == mt.OCI_MANIFEST
    document = json.loads(converted["imageManifest"])
    assert document["config"]["mediaType"] == mt.OCI_CONFIG
    assert converted["imageId"]["imageDigest"] == sha256(converted["imageManifest"].encode()) != digest
    pulled = v2_get(pusher, name, "v1", f"{mt.OCI_MANIFEST}, {mt.OCI_INDEX}")
    assert pulled.content == converted["imageManifest"].encode()
    assert pulled["Docker-Content-Digest"] == converted["imageId"]["imageDigest"]
    assert ManifestConversion.objects.count() == 1  # kept, and the same for both routes

    # By digest: exactly the bytes with that digest, whatever is accepted; a kept conversion too.
    exact = batch_get(
        alice, [{"imageDigest": digest}, {"imageDigest": converted["imageId"]["imageDigest"]}], [mt.OCI_MANIFEST]
    ).json()["images"]
    assert [(i["imageManifest"], i["imageManifestMediaType"]) for i in exact] == [
        (stored.decode(), mt.DOCKER_MANIFEST),
        (converted["imageManifest"], mt.OCI_MANIFEST),
    ]


def test_batch_get_image_of_an_index_for_a_caller_without_index_support(alice, pusher, name):
    amd, amd_body = push_docker_image(pusher, name, "amd64", architecture="amd64")
    arm, arm_body = push_docker_image(pusher, name, "arm64", architecture="arm64")
    push_index(pusher, name, "multi", [(arm, arm_body, "arm64"), (amd, amd_body, "amd64")], mt.DOCKER_MANIFEST_LIST)
    image = batch_get(alice, [{"imageTag": "multi"}], [mt.DOCKER_MANIFEST]).json()["images"][0]
    assert image["imageId"] == {"imageDigest": amd, "imageTag": "multi"}
    assert image["imageManifest"] == amd_body.decode()
    assert v2_get(pusher, name, "multi", mt.DOCKER_MANIFEST)["Docker-Content-Digest"] == amd


def test_batch_get_image_in_schema_1_for_old_clients(alice, tenant, pusher, name):
    push_docker_image(pusher, name, "v1")
    image = batch_get(alice, [{"imageTag": "v1"}], [mt.DOCKER_SCHEMA1]).json()["images"][0]
    assert image["imageManifestMediaType"] == mt.DOCKER_SCHEMA1_SIGNED
    document = json.loads(image["imageManifest"])
    assert (document["name"], document["tag"]) == (name, "v1") and document["signatures"]
    # The same conversion a Docker 1.9 pull through the account id gets.
    assert v2_get(pusher, name, "v1", accept=None).content == image["imageManifest"].encode()


def test_batch_get_image_of_what_no_accepted_type_can_carry(alice, pusher, name):
    chart, _ = push_helm_chart(pusher, name, "chart")
    response = batch_get(alice, [{"imageTag": "chart"}, {"imageDigest": chart}], [mt.DOCKER_MANIFEST])
    assert [i["imageId"] for i in response.json()["images"]] == [{"imageDigest": chart}]  # by digest: as stored
    assert failures(response) == [({"imageTag": "chart"}, "UnsupportedImageType")]
    assert "no Docker Image Manifest V2 Schema 2 equivalent" in response.json()["failures"][0]["failureReason"]
    assert v2_get(pusher, name, "chart", mt.DOCKER_MANIFEST).status_code == 404  # as /v2/ answers


# -- BatchDeleteImage ---------------------------------------------------------------


def test_batch_delete_image_as_ecr_documents_it(alice, tenant, pusher, name):
    a, a_manifest = pusher.push_image(name, "a1", seed=b"a")
    tag(pusher, name, "a2", a_manifest)
    b, _ = pusher.push_image(name, "b1", seed=b"b")
    c = push_untagged(pusher, name, seed=b"c")
    d, d_manifest = pusher.push_image(name, "d1", seed=b"d")
    index = push_index(pusher, name, "i1", [(d, body_of(d_manifest), "amd64")], mt.OCI_INDEX)
    e, e_manifest = pusher.push_image(name, "e1", seed=b"e")
    tag(pusher, name, "e2", e_manifest)
    history_before = TagHistory.objects.count()

    response = batch_delete(
        alice,
        [
            {"imageTag": "a1"},  # a keeps a2: only the tag goes
            {"imageTag": "b1"},  # b's last tag: the image goes too
            {"imageDigest": c},  # untagged
            {"imageDigest": e},  # the image and all its tags
            {"imageTag": "d1"},  # d's last tag, but the index lists d
            {"imageDigest": d},
            {"imageTag": "i1", "imageDigest": a},  # i1 points elsewhere
            {"imageTag": "gone"},
            {"imageDigest": "sha256:" + "0" * 64},
            {"imageDigest": "sha256:nothex"},
            {"imageTag": "-dash"},
            {},
        ],
    )
    assert image_ids(response) == [(a, "a1"), (b, "b1"), (c, None), (e, "e1"), (e, "e2")]
    assert failures(response) == [
        ({"imageTag": "d1"}, "ImageReferencedByManifestList"),
        ({"imageDigest": d}, "ImageReferencedByManifestList"),
        ({"imageDigest": a, "imageTag": "i1"}, "ImageTagDoesNotMatchDigest"),
        ({"imageTag": "gone"}, "ImageNotFound"),
        ({"imageDigest": "sha256:" + "0" * 64}, "ImageNotFound"),
        ({"imageDigest": "sha256:nothex"}, "InvalidImageDigest"),
        ({"imageTag": "-dash"}, "InvalidImageTag"),
        ({}, "MissingDigestAndTag"),
    ]
    assert index in response.json()["failures"][0]["failureReason"]
    assert set(Manifest.objects.values_list("digest", flat=True)) == {a, d, index}
    assert dict(Tag.objects.values_list("name", "manifest__digest")) == {"a2": a, "d1": d, "i1": index}
    removed = TagHistory.objects.order_by("id")[history_before:]
    assert [(h.tag, h.old_digest, h.new_digest, h.actor) for h in removed] == [
        ("a1", a, "", tenant.username),
        ("b1", b, "", tenant.username),
        ("e1", e, "", tenant.username),
        ("e2", e, "", tenant.username),
    ]

    # Deleting the index (by tag and the digest it points at) frees its entry.
    assert image_ids(batch_delete(alice, [{"imageTag": "i1", "imageDigest": index}, {"imageDigest": d}])) == [
        (index, "i1"),
        (d, "d1"),
    ]
    assert set(Manifest.objects.values_list("digest", flat=True)) == {a}
    # The registry agrees.
    assert v2_get(pusher, name, b).status_code == 404
    assert v2_get(pusher, name, "a2").status_code == 200


def test_batch_delete_image_asked_twice_for_the_same_image(alice, pusher, name):
    digest, manifest = pusher.push_image(name, "v1", seed=b"one")
    tag(pusher, name, "v2", manifest)
    response = batch_delete(
        alice, [{"imageTag": "v1"}, {"imageTag": "v1"}, {"imageDigest": digest}, {"imageTag": "v2"}]
    )
    assert image_ids(response) == [(digest, "v1"), (digest, "v2")]
    assert failures(response) == [({"imageTag": "v2"}, "ImageNotFound")]
    assert not Manifest.objects.exists()


# -- PutImage -----------------------------------------------------------------------


def test_put_image_retags_an_image_as_ecr_does(alice, tenant, pusher, name):
    digest, _ = pusher.push_image(name, "v1", seed=b"one")
    manifest = batch_get(alice, [{"imageTag": "v1"}]).json()["images"][0]["imageManifest"]
    response = put_image(alice, manifest, imageTag="release")
    assert response.status_code == 201, response.content
    assert response.json() == {
        "registryId": tenant.id,
        "repositoryName": "team/app",
        "imageId": {"imageDigest": digest, "imageTag": "release"},
        "imageManifest": manifest,
        "imageManifestMediaType": mt.OCI_MANIFEST,
    }
    assert Tag.objects.get(name="release").manifest.digest == digest
    history = TagHistory.objects.filter(tag="release").get()
    assert (history.old_digest, history.new_digest, history.actor) == ("", digest, tenant.username)

    for fields in ({"imageTag": "release"}, {"imageTag": "v1"}, {}, {"imageDigest": digest}):
        again = put_image(alice, manifest, **fields)
        assert again.status_code == 409, (fields, again.content)
        assert again.json()["code"] == "image_already_exists"
    assert TagHistory.objects.filter(tag="release").count() == 1


def test_put_image_stores_a_new_manifest_byte_for_byte(alice, pusher, name):
    config, layer = b'{"architecture":"arm64","os":"linux"}', os.urandom(500)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": {"mediaType": mt.OCI_CONFIG, "digest": pusher.push_blob(name, config), "size": len(config)},
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": pusher.push_blob(name, layer),
                    "size": len(layer),
                }
            ],
            "annotations": {"org.opencontainers.image.title": "caf\u00e9"},
        },
        indent=2,
        ensure_ascii=False,
    )
    digest = sha256(manifest.encode())

    untagged = put_image(alice, manifest, imageDigest=digest, imageManifestMediaType=mt.OCI_MANIFEST)
    assert untagged.status_code == 201, untagged.content
    assert untagged.json()["imageId"] == {"imageDigest": digest}
    assert bytes(Manifest.objects.get(digest=digest).content) == manifest.encode()
    assert image_ids(alice.get(IMAGES)) == [(digest, None)]

    tagged = put_image(alice, manifest, imageTag="arm", imageDigest=digest)
    assert tagged.status_code == 201 and tagged.json()["imageId"] == {"imageDigest": digest, "imageTag": "arm"}
    pulled = v2_get(pusher, name, "arm")
    assert pulled.content == manifest.encode() and pulled["Docker-Content-Digest"] == digest


def test_put_image_errors(alice, pusher, name, settings):
    _, manifest = pusher.push_image(name, "v1", seed=b"one")
    text = body_of(manifest).decode()
    missing = {
        **manifest,
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(b"never pushed"), "size": 12}
        ],
    }
    index = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [{"mediaType": mt.OCI_MANIFEST, "digest": sha256(b"no such manifest"), "size": 10}],
    }

    def refused(response, status, code):
        assert (response.status_code, response.json()["code"]) == (status, code), response.content

    refused(put_image(alice, text, imageTag="v2", imageDigest="sha256:" + "0" * 64), 400, "image_digest_does_not_match")
    refused(put_image(alice, json.dumps(missing), imageTag="v2"), 400, "layers_not_found")
    refused(put_image(alice, json.dumps(index), imageTag="v2"), 400, "referenced_images_not_found")
    assert field_errors(put_image(alice, "{not json")) == [("imageManifest", "invalid")]
    assert field_errors(put_image(alice, text, imageManifestMediaType=mt.DOCKER_MANIFEST)) == [
        ("imageManifest", "invalid")
    ]
    assert field_errors(put_image(alice, text, imageTag="bad tag!")) == [("imageTag", "invalid")]
    assert field_errors(put_image(alice, text, imageTag="v2\n")) == [("imageTag", "invalid")]
    assert field_errors(put_image(alice, text, imageTag="t" * 301)) == [("imageTag", "max_length")]
    assert field_errors(put_image(alice, text, imageDigest="sha256:xyz")) == [("imageDigest", "invalid")]
    assert field_errors(put_image(alice, text, imageDigest="sha384:" + "0" * 96)) == [("imageDigest", "invalid")]
    assert field_errors(alice.post(IMAGES, {}, format="json")) == [("imageManifest", "required")]
    assert field_errors(put_image(alice, "")) == [("imageManifest", "blank")]

    settings.BERTH_MAX_MANIFEST_BYTES = len(text) - 1
    assert field_errors(put_image(alice, text, imageTag="v2")) == [("imageManifest", "max_length")]
    # A body no manifest within the limit could need is refused before it is parsed.
    huge = alice.post(IMAGES, {"imageManifest": " " * (3 * len(text) + 65 * 1024)}, format="json")
    refused(huge, 413, "request_too_large")
    assert Manifest.objects.count() == 1 and Tag.objects.count() == 1


def test_tags_may_be_three_hundred_characters_long(alice, pusher, name):
    long_tag = "v" + "1" * 299
    digest, manifest = pusher.push_image(name, long_tag, seed=b"one")
    assert image_ids(alice.get(IMAGES)) == [(digest, long_tag)]
    for refused in (long_tag + "1", "v1%0A"):
        response = pusher.push_manifest(name, refused, manifest)
        assert response.status_code == 400 and json.loads(response.content)["errors"][0]["code"] == "TAG_INVALID"
    assert put_image(alice, body_of(manifest), imageTag="r" * 300).status_code == 201
    # A Docker 1.9 pull by the longest tag keeps its conversion too (the name and tag are part of it).
    assert v2_get(pusher, name, long_tag, accept=None).status_code == 200
    assert len(ManifestConversion.objects.get().variant) == len(f"{name}:{long_tag}")
    assert batch_delete(alice, [{"imageTag": long_tag}]).json()["imageIds"] == [
        {"imageDigest": digest, "imageTag": long_tag}
    ]


# -- tag immutability, whatever the route -------------------------------------------


def test_an_immutable_tag_cannot_be_moved_by_any_route(alice, tenant, pusher, name, repository):
    repository_services.put_image_tag_mutability(
        actor=Actor.system("test"),
        repository=repository,
        image_tag_mutability=TagMutability.IMMUTABLE,
        image_tag_mutability_exclusion_filters=[],
    )
    first, first_manifest = pusher.push_image(name, "v1", seed=b"one")
    _, second_manifest = pusher.push_image(name, "v2", seed=b"two")
    manifests_before = Manifest.objects.count()

    # 1. the registry API
    response = pusher.push_manifest(name, "v1", second_manifest)
    assert response.status_code == 400
    assert json.loads(response.content)["errors"][0]["code"] == "TAG_INVALID"

    # 2. PutImage
    response = put_image(alice, body_of(second_manifest), imageTag="v1")
    assert response.status_code == 409 and response.json()["code"] == "image_tag_already_exists"
    assert "immutable" in response.json()["detail"]

    # 3. a new image pushed in chunks, whose manifest PUT is refused: nothing of it is kept
    token = pusher.token(f"repository:{name}:pull,push")
    layer = os.urandom(10_000)
    location = pusher.request("POST", f"/v2/{name}/blobs/uploads/", token=token)["Location"]
    for start in range(0, len(layer), 4000):
        chunk = layer[start : start + 4000]
        response = pusher.request(
            "PATCH", location, token=token, data=chunk, headers={"Content-Range": f"{start}-{start + len(chunk) - 1}"}
        )
        assert response.status_code == 202
        location = response["Location"]
    assert pusher.request("PUT", f"{location}?digest={sha256(layer)}", token=token).status_code == 201
    config = b'{"architecture":"amd64","os":"linux"}'
    third_manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": pusher.push_blob(name, config), "size": len(config)},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(layer), "size": len(layer)}
        ],
    }
    response = pusher.request(
        "PUT", f"/v2/{name}/manifests/v1", token=token, data=body_of(third_manifest), content_type=mt.OCI_MANIFEST
    )
    assert response.status_code == 400
    assert json.loads(response.content)["errors"][0]["code"] == "TAG_INVALID"

    assert Manifest.objects.count() == manifests_before
    assert v2_get(pusher, name, "v1")["Docker-Content-Digest"] == first
    assert batch_get(alice, [{"imageTag": "v1"}]).json()["images"][0]["imageId"]["imageDigest"] == first
    assert list(TagHistory.objects.filter(tag="v1").values_list("old_digest", "new_digest")) == [("", first)]

    # The same content again changes nothing, by either route.
    assert pusher.push_manifest(name, "v1", first_manifest).status_code == 201
    assert put_image(alice, body_of(first_manifest), imageTag="v1").json()["code"] == "image_already_exists"
    # As in ECR, an immutable tag may be deleted; then the name is free.
    assert image_ids(batch_delete(alice, [{"imageTag": "v1"}])) == [(first, "v1")]
    assert put_image(alice, body_of(second_manifest), imageTag="v1").status_code == 201


# -- last pull time -----------------------------------------------------------------


def pull_time(alice, digest: str):
    details = alice.post(f"{IMAGES}/describe", {"imageIds": [{"imageDigest": digest}]}, format="json").json()
    return details["imageDetails"][0]["lastRecordedPullTime"]


class PullWrites:
    """Counts the statements that write a pull time (a request resets Django's own query log)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        if sql.startswith("UPDATE") and "last_pulled_at" in sql:
            self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def pull_writes():
    counter = PullWrites()
    with connection.execute_wrapper(counter):
        yield counter


def test_a_get_records_the_pull_and_a_head_does_not(alice, pusher, name):
    digest, _ = pusher.push_image(name, "v1", seed=b"one")
    token = pusher.token(f"repository:{name}:pull")
    assert (
        pusher.request("HEAD", f"/v2/{name}/manifests/v1", token=token, headers={"Accept": MODERN}).status_code == 200
    )
    assert pusher.request("HEAD", f"/v2/{name}/manifests/{digest}", token=token).status_code == 200
    assert pull_time(alice, digest) is None

    with pull_writes() as first:
        assert (
            pusher.request("GET", f"/v2/{name}/manifests/v1", token=token, headers={"Accept": MODERN}).status_code
            == 200
        )
    recorded = pull_time(alice, digest)
    assert recorded is not None and first.count == 1

    # Within the minute, further pulls are not written.
    with pull_writes() as again:
        for reference in ("v1", digest, "v1"):
            assert (
                pusher.request(
                    "GET", f"/v2/{name}/manifests/{reference}", token=token, headers={"Accept": MODERN}
                ).status_code
                == 200
            )
    assert again.count == 0
    assert pull_time(alice, digest) == recorded

    # A minute later, the next pull is.
    manifest_id = Manifest.objects.get(digest=digest).pk
    services.recorded_pulls[manifest_id] = time.monotonic() - services.PULL_RECORD_INTERVAL - 1
    Manifest.objects.filter(pk=manifest_id).update(last_pulled_at=None)
    assert pusher.request("GET", f"/v2/{name}/manifests/{digest}", token=token).status_code == 200
    assert pull_time(alice, digest) is not None


def test_a_converted_pull_and_batch_get_image_count_as_pulls(alice, pusher, name):
    docker, _ = push_docker_image(pusher, name, "docker")
    oci, _ = pusher.push_image(name, "oci", seed=b"oci")
    assert v2_get(pusher, name, "docker", mt.OCI_MANIFEST)["Content-Type"] == mt.OCI_MANIFEST
    assert pull_time(alice, docker) is not None  # recorded on the image it was converted from
    assert pull_time(alice, oci) is None
    assert batch_get(alice, [{"imageTag": "oci"}]).json()["images"]
    assert pull_time(alice, oci) is not None


# -- who may do what ----------------------------------------------------------------


def test_another_accounts_repository_is_not_found(alice, other_tenant, registry_client):
    repository_services.create_repository(
        actor=Actor.system("test"), account=other_tenant.account, name="team/app", visibility="public"
    )
    registry_client(other_tenant).push_image(f"{other_tenant.id}/team/app", "v1")
    theirs = Manifest.objects.get()
    mine = "/api/v1/repositories/team/app/-/images"  # alice has no team/app
    for method, url, body in [
        ("get", mine, None),
        ("post", mine, {"imageManifest": bytes(theirs.content).decode(), "imageTag": "stolen"}),
        ("get", f"{mine}/describe", None),
        ("post", f"{mine}/describe", {"imageIds": [{"imageTag": "v1"}]}),
        ("post", f"{mine}/batch-get", {"imageIds": [{"imageTag": "v1"}]}),
        ("post", f"{mine}/batch-delete", {"imageIds": [{"imageTag": "v1"}]}),
    ]:
        response = getattr(alice, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.content)
        assert response.json()["code"] == "not_found"
        assert "does not exist" in response.json()["detail"]
    assert Tag.objects.get().name == "v1" and Manifest.objects.count() == 1


@pytest.mark.parametrize("repository_name", ["UPPER", "a" * 257, "team/app/"])
def test_a_name_outside_the_grammar_is_not_found(alice, repository, repository_name):
    response = alice.get(f"/api/v1/repositories/{repository_name}/-/images")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_name_holding_nul_is_invalid(alice, repository):
    response = alice.get("/api/v1/repositories/a%00b/-/images")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")


def test_a_user_outside_any_account_is_refused_and_anonymous_callers_are_asked_to_authenticate(db):
    operator = get_user_model().objects.create_user(username="operator", password="x")
    new_key = account_services.create_access_key(actor=Actor.system("test"), user=operator)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(new_key.access_key.access_key_id, new_key.secret))
    anonymous = APIClient()
    for method, path in [
        ("get", ""),
        ("post", ""),
        ("get", "/describe"),
        ("post", "/describe"),
        ("post", "/batch-get"),
        ("post", "/batch-delete"),
    ]:
        response = getattr(client, method)(f"{IMAGES}{path}", {}, format="json")
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied"), (method, path)
        response = getattr(anonymous, method)(f"{IMAGES}{path}", {}, format="json")
        assert (response.status_code, response.json()["code"]) == (401, "not_authenticated"), (method, path)


def test_a_nul_character_in_stored_manifest_fields_is_refused_by_every_route(alice, pusher, name):
    """PostgreSQL cannot store text holding NUL: refused as invalid, never a server error."""
    config = pusher.push_blob(name, b"{}")
    base = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": config, "size": 2},
        "layers": [],
    }
    for manifest in (
        {**base, "annotations": {"title": "a\u0000b"}},
        {**base, "annotations": {"a\u0000": "b"}},
        {**base, "artifactType": "application/x\u0000"},
    ):
        response = pusher.push_manifest(name, "v1", manifest)
        assert response.status_code == 400
        assert json.loads(response.content)["errors"][0]["code"] == "MANIFEST_INVALID"
        assert field_errors(put_image(alice, json.dumps(manifest), imageTag="v1")) == [("imageManifest", "invalid")]
    assert not Manifest.objects.exists()

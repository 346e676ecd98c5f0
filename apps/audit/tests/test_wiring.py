"""What the registry and the management API leave in the trail: every action, with
its parameters, its outcome, and (for writes) in the transaction of the change."""

from __future__ import annotations

import hashlib

import pytest

from apps.audit import recorder
from apps.audit.models import Event

OCI = {"Accept": "application/vnd.oci.image.manifest.v1+json"}


@pytest.fixture
def pushed(tenant, registry_client):
    client = registry_client(tenant)
    name = f"{tenant.id}/team/app"
    first, _ = client.push_image(name, "v1", seed=b"first")
    return client, name, first


def events(**filters) -> list[Event]:
    recorder.flush()
    return list(Event.objects.filter(**filters).order_by("sequence"))


def test_a_push_records_each_registry_action(tenant, pushed):
    # push_image uploads each blob in one POST (?digest=), then puts the manifest.
    names = [event.event_name for event in events(recipient_account_id=tenant.id)]
    assert set(names) == {"InitiateLayerUpload", "PutImage"} and names[-1] == "PutImage"
    put = events(event_name="PutImage")[-1]
    assert put.repository == "team/app" and put.image_tag == "v1" and put.image_digest == pushed[2]
    assert put.request_parameters["repositoryName"] == "team/app"
    assert put.actor_type == "Root" and put.actor_arn == f"arn:berth:iam::{tenant.id}:root"
    assert not put.read_only and put.error_code == ""


def test_a_chunked_upload_records_each_step(tenant, pushed):
    client, name, _ = pushed
    data = b"chunked layer"
    scope = f"repository:{name}:pull,push"
    started = client.request("POST", f"/v2/{name}/blobs/uploads/", scope=scope)
    location = started["Location"]
    assert client.request("PATCH", location, scope=scope, data=data).status_code == 202
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert client.request("PUT", f"{location}?digest={digest}", scope=scope).status_code == 201
    steps = events(event_name__in=["InitiateLayerUpload", "UploadLayerPart", "CompleteLayerUpload"])[-3:]
    assert [step.event_name for step in steps] == ["InitiateLayerUpload", "UploadLayerPart", "CompleteLayerUpload"]
    upload_id = steps[0].response_elements["uploadId"]
    assert steps[1].request_parameters["uploadId"] == upload_id
    assert steps[2].response_elements["layerDigest"] == digest


def test_a_tag_move_records_the_digest_it_pointed_at_before(tenant, pushed):
    client, name, first = pushed
    second, _ = client.push_image(name, "v1", seed=b"second")
    move = events(event_name="PutImage", image_digest=second)[0]
    assert move.response_elements["previousImageDigest"] == first
    assert move.response_elements["image"]["imageId"] == {"imageDigest": second, "imageTag": "v1"}


def test_a_pull_records_the_tag_the_digest_and_the_method(tenant, pushed):
    client, name, first = pushed
    assert (
        client.request("GET", f"/v2/{name}/manifests/v1", scope=f"repository:{name}:pull", headers=OCI).status_code
        == 200
    )
    pull = events(event_name="BatchGetImage")[-1]
    assert (pull.image_tag, pull.image_digest, pull.read_only) == ("v1", first, True)
    assert pull.request_parameters["httpMethod"] == "GET"
    assert pull.source_ip == "127.0.0.1" and len(pull.request_id) == 32


def test_a_refused_request_with_a_token_is_an_access_denied_event(tenant, other_tenant, pushed, registry_client):
    _, name, _ = pushed
    outsider = registry_client(other_tenant)
    token = outsider.token(f"repository:{name}:pull")
    assert outsider.request("GET", f"/v2/{name}/manifests/v1", token=token).status_code == 401
    denied = events(event_name="BatchGetImage", error_code="AccessDenied")
    assert [event.actor_account_id for event in denied] == [other_tenant.id]
    assert denied[0].recipient_account_id == tenant.id


def test_a_failed_write_is_recorded_as_a_failure_and_leaves_no_success(tenant, pushed):
    client, name, _ = pushed
    response = client.request(
        "PUT",
        f"/v2/{name}/manifests/broken",
        scope=f"repository:{name}:pull,push",
        data=b"{not json",
        content_type="application/vnd.oci.image.manifest.v1+json",
    )
    assert response.status_code == 400
    [failed] = events(event_name="PutImage", image_tag="broken")
    assert failed.error_code == "MANIFEST_INVALID"


def test_management_api_calls_are_recorded_with_their_outcome(tenant, pushed, api_client):
    api = api_client(tenant)
    assert api.get("/api/v1/repositories/team/app/-/images").status_code == 200
    assert api.get("/api/v1/repositories/nowhere/-/images").status_code == 404
    invalid = api.put(
        "/api/v1/repositories/team/app/-/image-tag-mutability", {"imageTagMutability": "X"}, format="json"
    )
    assert invalid.status_code == 400
    assert api.delete("/api/v1/repositories/team/app?force=true").status_code == 204

    listed, missing = events(event_name="ListImages")
    assert (listed.repository, listed.error_code, missing.error_code) == ("team/app", "", "not_found")
    assert missing.request_parameters["repositoryName"] == "nowhere"
    [refused_input] = events(event_name="PutImageTagMutability")
    assert refused_input.error_code == "invalid"
    [deleted] = events(event_name="DeleteRepository")
    assert deleted.error_code == "" and deleted.request_parameters["force"] is True

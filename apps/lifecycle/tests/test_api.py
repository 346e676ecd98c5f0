"""The REST API of lifecycle policies: ECR's shapes, the text kept byte for byte,
ECR's validation messages, the preview and its pages."""

from __future__ import annotations

import pytest

from apps.audit.models import Event

from . import ecr_examples

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(tenant, api_client, settings):
    settings.BERTH_AUDIT_SYNCHRONOUS = True
    return api_client(tenant)


def url(shelf, tail: str = "") -> str:
    return f"/api/v1/repositories/app/-/lifecycle-policy{tail}"


def test_put_get_delete_keep_the_text_as_given(shelf, api, tenant):
    shelf.push("v1", 1)
    assert api.get(url(shelf)).json()["code"] == "lifecycle_policy_not_found"
    text = ecr_examples.AGE_TAGGED + "\n\n"
    response = api.put(url(shelf), {"lifecyclePolicyText": text}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "registryId": tenant.id,
        "repositoryName": "app",
        "lifecyclePolicyText": text,
        "lastEvaluatedAt": None,
    }
    assert api.get(url(shelf)).json()["lifecyclePolicyText"] == text
    event = Event.objects.filter(event_name="PutLifecyclePolicy").get()
    assert event.request_parameters["lifecyclePolicyText"] == text
    deleted = api.delete(url(shelf))
    assert deleted.status_code == 200 and deleted.json()["lifecyclePolicyText"] == text
    assert api.delete(url(shelf)).status_code == 404


def test_an_invalid_policy_gets_ecrs_message_on_its_field(shelf, api):
    shelf.push("v1", 1)
    untagged_twice = ecr_examples.MULTIPLE_RULES_A.replace('"tagged"', '"untagged"')
    response = api.put(url(shelf), {"lifecyclePolicyText": untagged_twice}, format="json")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "lifecyclePolicyText"
    assert error["code"] == "invalid_parameter"
    assert (
        "Lifecycle policy validation failure: tagPrefixList and tagPatternList can only be specified"
        in error["message"]
    )
    response = api.put(url(shelf), {"lifecyclePolicyText": "{}"}, format="json")
    assert "Member must have length greater than or equal to 100" in response.json()["errors"][0]["message"]
    assert api.put(url(shelf), {}, format="json").json()["errors"][0]["code"] == "required"


def test_the_preview_in_pages(shelf, api):
    digests = [shelf.push(f"u{n}", 30 - n) for n in range(5)]
    for n in range(5):
        shelf.untag(f"u{n}")
    assert api.get(url(shelf, "/preview")).json()["code"] == "lifecycle_policy_preview_not_found"
    assert api.post(url(shelf, "/preview"), {}, format="json").json()["code"] == "lifecycle_policy_not_found"
    started = api.post(url(shelf, "/preview"), {"lifecyclePolicyText": ecr_examples.COUNT_UNTAGGED}, format="json")
    assert started.status_code == 200, started.content
    assert started.json()["status"] == "COMPLETE"
    first = api.get(url(shelf, "/preview?maxResults=3")).json()
    assert first["summary"] == {"expiringImageTotalCount": 4}
    assert [r["imageDigest"] for r in first["previewResults"]] == digests[:3]
    assert first["previewResults"][0]["action"] == {"type": "EXPIRE"}
    assert first["previewResults"][0]["appliedRulePriority"] == 1
    assert first["previewResults"][0]["imageTags"] == []
    assert first["previewResults"][0]["lastPulledAt"] is None
    second = api.get(url(shelf, f"/preview?maxResults=3&nextToken={first['nextToken']}")).json()
    assert [r["imageDigest"] for r in second["previewResults"]] == digests[3:4]
    assert second["nextToken"] is None
    assert api.get(url(shelf, "/preview?nextToken=x")).status_code == 400
    # Previewing a text puts no policy.
    assert api.get(url(shelf)).status_code == 404

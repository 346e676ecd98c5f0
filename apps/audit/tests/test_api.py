"""/api/v1/audit/: LookupEvents with its filters and pages, the JSON Lines export,
the ready-made questions, and what one account may see of another's events."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit import services
from apps.audit.events import Actor, ActorType

from .conftest import make_draft, root_actor, user_actor

pytestmark = pytest.mark.django_db

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


@pytest.fixture
def alice(tenant, api_client):
    return api_client(tenant)


@pytest.fixture
def mallory(other_tenant, api_client):
    return api_client(other_tenant)


def record(**fields):
    [event] = services.record_many([make_draft(**fields)])
    return event


def pull(
    account_id: str,
    actor: Actor,
    digest: str,
    *,
    repository: str = "team/app",
    source_ip: str = "192.0.2.10",
    when=None,
    tag: str = "latest",
):
    return record(
        account_id=account_id,
        actor=actor,
        source_ip=source_ip,
        repository=repository,
        request_parameters={"imageTag": tag, "repositoryName": repository},
        response_elements={"imageDigest": digest},
        event_time=when or timezone.now(),
    )


def lookup(client, **params):
    response = client.get("/api/v1/audit/events", params)
    assert response.status_code == 200, response.content
    return response.json()


def ids(page) -> list[str]:
    return [record["eventID"] for record in page["events"]]


def test_a_record_has_cloudtrails_shape(tenant, alice, settings):
    event = pull(tenant.id, user_actor(tenant.id, "ci", access_key_id="BKIAEXAMPLE"), DIGEST_A)

    [shown] = lookup(alice, repository="team/app")["events"]

    assert shown == {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "ci",
            "arn": f"arn:berth:iam::{tenant.id}:user/ci",
            "accountId": tenant.id,
            "accessKeyId": "BKIAEXAMPLE",
            "userName": "ci",
        },
        "eventTime": event.event_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "eventSource": "ecr.berth",
        "eventName": "BatchGetImage",
        "awsRegion": settings.BERTH_REGION,
        "sourceIPAddress": "192.0.2.10",
        "userAgent": "docker/27.0 go/go1.22",
        "requestParameters": {"imageTag": "latest", "repositoryName": "team/app"},
        "responseElements": {"imageDigest": DIGEST_A},
        "requestID": event.request_id,
        "eventID": str(event.event_id),
        "readOnly": True,
        "resources": [
            {
                "ARN": f"arn:{settings.BERTH_ARN_PARTITION}:ecr:{settings.BERTH_REGION}:{tenant.id}:repository/team/app",
                "accountId": tenant.id,
                "type": "AWS::ECR::Repository",
            }
        ],
        "eventType": "AwsApiCall",
        "recipientAccountId": tenant.id,
        "berth:sequence": event.sequence,
        "berth:hash": event.hash,
    }


def test_role_sessions_refusals_and_anonymous_callers(tenant, alice):
    role = Actor(
        type=ActorType.ASSUMED_ROLE,
        arn=f"arn:berth:sts::{tenant.id}:assumed-role/deployer/ci-run-7",
        account_id=tenant.id,
        access_key_id="BSIAEXAMPLE",
        session_name="ci-run-7",
        role_arn=f"arn:berth:iam::{tenant.id}:role/deployer",
    )
    record(account_id=tenant.id, actor=role, repository="roles", error_code="AccessDenied", error_message="no")
    record(account_id=tenant.id, actor=Actor(type=ActorType.ANONYMOUS), repository="roles")

    anonymous, session = lookup(alice, repository="roles")["events"]

    assert session["userIdentity"]["sessionContext"] == {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "deployer",
            "arn": f"arn:berth:iam::{tenant.id}:role/deployer",
            "accountId": tenant.id,
            "userName": "deployer",
        },
        "sessionName": "ci-run-7",
    }
    assert session["userIdentity"]["principalId"] == "deployer:ci-run-7"
    assert (session["errorCode"], session["errorMessage"]) == ("AccessDenied", "no")
    assert anonymous["userIdentity"]["type"] == "Anonymous"
    assert "errorCode" not in anonymous


def test_another_accounts_events_are_never_shown(tenant, other_tenant, alice, mallory):
    own = pull(tenant.id, root_actor(tenant.id), DIGEST_A)
    # mallory pulls alice's (public) image: an event of both
    shared = pull(tenant.id, root_actor(other_tenant.id), DIGEST_A, source_ip="203.0.113.5")
    mallorys = pull(other_tenant.id, root_actor(other_tenant.id), DIGEST_B)
    strangers = pull("999988887777", root_actor("999988887777"), DIGEST_B)

    seen_by_alice = lookup(alice, max_results=1000)
    seen_by_mallory = lookup(mallory, max_results=1000)

    assert {str(own.event_id), str(shared.event_id)} <= set(ids(seen_by_alice))
    assert {str(mallorys.event_id), str(strangers.event_id)}.isdisjoint(ids(seen_by_alice))
    assert {str(shared.event_id), str(mallorys.event_id)} <= set(ids(seen_by_mallory))
    assert {str(own.event_id), str(strangers.event_id)}.isdisjoint(ids(seen_by_mallory))
    for record_ in seen_by_alice["events"]:
        assert tenant.id in (record_["recipientAccountId"], record_["userIdentity"].get("accountId"))
    # the questions obey the same rule
    assert (
        alice.get("/api/v1/audit/principal-pulls", {"principal": f"arn:berth:iam::{other_tenant.id}:root"}).json()[
            "pulls"
        ][0]["repositoryName"]
        == "team/app"
    )
    assert mallory.get("/api/v1/audit/image-pulls", {"repository": "team/app", "digest": DIGEST_A}).json() == {
        "pulls": []
    }


def test_filters(tenant, alice):
    now = timezone.now()
    ci = user_actor(tenant.id, "ci", access_key_id="BKIACIKEY")
    early = pull(tenant.id, ci, DIGEST_A, when=now - timedelta(hours=3), source_ip="198.51.100.1", tag="v1")
    late = pull(tenant.id, root_actor(tenant.id), DIGEST_B, when=now - timedelta(hours=1), repository="other")
    write = record(
        account_id=tenant.id,
        event_name="PutImage",
        read_only=False,
        event_time=now - timedelta(hours=2),
        request_parameters={"imageTag": "v1"},
        response_elements={"image": {"imageId": {"imageDigest": DIGEST_A}}},
    )

    def found(**params):
        return set(ids(lookup(alice, **params))) & {str(e.event_id) for e in (early, late, write)}

    assert found(event_name="PutImage") == {str(write.event_id)}
    for principal in ("ci", "BKIACIKEY", f"arn:berth:iam::{tenant.id}:user/ci"):
        assert found(principal=principal) == {str(early.event_id)}
    assert found(repository="other") == {str(late.event_id)}
    assert found(digest=DIGEST_A) == {str(early.event_id), str(write.event_id)}
    assert found(tag="v1") == {str(early.event_id), str(write.event_id)}
    assert found(source_ip="198.51.100.1") == {str(early.event_id)}
    assert found(
        start_time=(now - timedelta(minutes=150)).isoformat(), end_time=(now - timedelta(minutes=30)).isoformat()
    ) == {str(write.event_id), str(late.event_id)}
    assert found(read_only="false") == {str(write.event_id)}
    assert found(read_only="true", digest=DIGEST_A) == {str(early.event_id)}


def test_pages_newest_first_with_an_opaque_token(tenant, alice):
    now = timezone.now()
    events = [pull(tenant.id, root_actor(tenant.id), DIGEST_A, when=now - timedelta(minutes=n)) for n in range(7)]
    # two events at the very same moment are told apart by their sequence
    events.append(pull(tenant.id, root_actor(tenant.id), DIGEST_A, when=events[3].event_time))

    seen, token, pages = [], None, 0
    while True:
        page = lookup(alice, repository="team/app", max_results=3, **({"next": token} if token else {}))
        seen += ids(page)
        pages += 1
        token = page["next"]
        if token is None:
            break

    expected = sorted(events, key=lambda e: (e.event_time, e.sequence), reverse=True)
    assert seen == [str(e.event_id) for e in expected]
    assert pages == 3


def test_a_token_only_continues_its_own_listing(tenant, alice, mallory, other_tenant):
    for _ in range(3):
        pull(tenant.id, root_actor(tenant.id), DIGEST_A)
    token = lookup(alice, repository="team/app", max_results=1)["next"]

    other_filters = alice.get("/api/v1/audit/events", {"repository": "elsewhere", "next": token})
    other_account = mallory.get("/api/v1/audit/events", {"repository": "team/app", "next": token})
    forged = alice.get("/api/v1/audit/events", {"repository": "team/app", "next": token[:-2] + "xx"})

    for response in (other_filters, other_account, forged):
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "next"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start_time": "yesterday"}, "start_time"),
        ({"end_time": "2026-13-45T00:00:00Z"}, "end_time"),
        ({"digest": "sha256:nothex"}, "digest"),
        ({"source_ip": "not-an-address"}, "source_ip"),
        ({"max_results": "0"}, "max_results"),
        ({"read_only": "perhaps"}, "read_only"),
        ({"start_time": "2026-02-01T00:00:00Z", "end_time": "2026-01-01T00:00:00Z"}, "end_time"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(alice, params, field):
    response = alice.get("/api/v1/audit/events", params)
    body = response.json()
    assert response.status_code == 400 and body["code"] == "invalid", body
    assert [error["field"] for error in body["errors"]] == [field]


def test_bad_question_parameters_are_refused(alice):
    response = alice.get("/api/v1/audit/image-pulls", {"repository": "team/app", "digest": "latest"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "digest"
    response = alice.get("/api/v1/audit/tag-history", {"repository": "team/app"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "tag"


def test_signing_in_is_required(client):
    response = client.get("/api/v1/audit/events")
    assert response.status_code in (401, 403)


def test_export_streams_json_lines_with_the_same_filters(tenant, alice):
    events = [
        pull(tenant.id, root_actor(tenant.id), DIGEST_A, when=timezone.now() - timedelta(seconds=n)) for n in range(5)
    ]
    pull(tenant.id, root_actor(tenant.id), DIGEST_B)

    response = alice.get("/api/v1/audit/events/export", {"digest": DIGEST_A}, HTTP_ACCEPT="application/x-ndjson")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response.streaming
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line)["eventID"] for line in lines] == [str(e.event_id) for e in events]
    assert alice.get("/api/v1/audit/events/export", {"start_time": "nope"}).status_code == 400


def test_who_pulled_an_image_and_from_where(tenant, other_tenant, alice):
    now = timezone.now()
    ci = user_actor(tenant.id, "ci")
    pull(tenant.id, ci, DIGEST_A, source_ip="10.0.0.1", when=now - timedelta(hours=5))
    pull(tenant.id, ci, DIGEST_A, source_ip="10.0.0.1", when=now - timedelta(hours=4))
    pull(tenant.id, root_actor(other_tenant.id), DIGEST_A, source_ip="203.0.113.5", when=now - timedelta(hours=1))
    pull(tenant.id, ci, DIGEST_B, source_ip="10.0.0.1")  # another image
    record(account_id=tenant.id, actor=ci, error_code="AccessDenied", response_elements={"imageDigest": DIGEST_A})

    pulls = alice.get("/api/v1/audit/image-pulls", {"repository": "team/app", "digest": DIGEST_A}).json()["pulls"]

    assert [(p["principal"]["arn"], p["sourceIPAddress"], p["pullCount"]) for p in pulls] == [
        (f"arn:berth:iam::{other_tenant.id}:root", "203.0.113.5", 1),
        (f"arn:berth:iam::{tenant.id}:user/ci", "10.0.0.1", 2),
    ]
    assert pulls[1]["firstPullTime"] < pulls[1]["lastPullTime"]


def test_what_a_principal_pulled(tenant, alice):
    ci = user_actor(tenant.id, "ci", access_key_id="BKIACIKEY")
    pull(tenant.id, ci, DIGEST_A)
    pull(tenant.id, ci, DIGEST_A)
    pull(tenant.id, ci, DIGEST_B, repository="base")
    pull(tenant.id, root_actor(tenant.id), DIGEST_B)

    pulls = alice.get("/api/v1/audit/principal-pulls", {"principal": "BKIACIKEY"}).json()["pulls"]

    assert sorted((p["repositoryName"], p["imageDigest"], p["pullCount"]) for p in pulls) == [
        ("base", DIGEST_B, 1),
        ("team/app", DIGEST_A, 2),
    ]


def test_the_history_of_a_tag(tenant, alice):
    now = timezone.now()

    def put(digest, previous, when):
        elements = {"image": {"imageId": {"imageDigest": digest, "imageTag": "prod"}}}
        if previous:
            elements["previousImageDigest"] = previous
        return record(
            account_id=tenant.id,
            event_name="PutImage",
            read_only=False,
            event_time=when,
            request_parameters={"imageTag": "prod"},
            response_elements=elements,
        )

    first = put(DIGEST_A, None, now - timedelta(days=2))
    second = put(DIGEST_B, DIGEST_A, now - timedelta(days=1))
    record(
        account_id=tenant.id,
        event_name="PutImage",
        read_only=False,
        error_code="ImageTagAlreadyExistsException",
        request_parameters={"imageTag": "prod"},
    )

    history = alice.get("/api/v1/audit/tag-history", {"repository": "team/app", "tag": "prod"}).json()["history"]

    assert [(h["eventID"], h["imageDigest"], h["previousImageDigest"]) for h in history] == [
        (str(second.event_id), DIGEST_B, DIGEST_A),
        (str(first.event_id), DIGEST_A, None),
    ]


def test_looking_up_is_itself_recorded(tenant, alice):
    lookup(alice)
    page = lookup(alice, event_name="LookupEvents")
    assert page["events"] and page["events"][0]["eventSource"] == "cloudtrail.berth"
    assert page["events"][0]["readOnly"] is True

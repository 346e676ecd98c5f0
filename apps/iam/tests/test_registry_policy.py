"""The registry policy: its validation and storage (services), the decision replication
asks of it (registry_policies.decide), and GET/PUT/DELETE /api/v1/registry/policy with
IAM enforced."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.conftest import basic_auth
from apps.iam import selectors, services
from apps.iam.models import RegistryPolicy
from apps.iam.registry_policies import RegistryPolicyInvalid, RegistryPolicyNotFound, decide

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
SOURCE = "210987654321"
STRANGER = "123412341234"


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def grant(account_id: str, principal: object = None, *, action=("ecr:ReplicateImage", "ecr:CreateRepository"), **extra):
    return {
        "Sid": extra.pop("Sid", "ReplicationAccess"),
        "Effect": extra.pop("Effect", "Allow"),
        "Principal": {"AWS": principal if principal is not None else f"arn:aws:iam::{SOURCE}:root"},
        "Action": list(action),
        "Resource": extra.pop("Resource", f"arn:aws:ecr:*:{account_id}:repository/*"),
        **extra,
    }


def repository_arn(account_id: str, name: str, region: str = "local-a") -> str:
    return f"arn:berth:ecr:{region}:{account_id}:repository/{name}"


# -- services -------------------------------------------------------------------------


def test_put_replaces_get_reads_delete_returns_the_policy_and_each_is_recorded(tenant):
    first = document(grant(tenant.id))
    services.put_registry_policy(account=tenant.account, document=first, actor=ACTOR)
    second = document(grant(tenant.id, SOURCE, action=["ecr:ReplicateImage"]))
    stored = services.put_registry_policy(account=tenant.account, document=second, actor=ACTOR)
    assert RegistryPolicy.objects.filter(account=tenant.account).count() == 1
    assert selectors.registry_policy_of(tenant.id).document == second == stored.document

    deleted = services.delete_registry_policy(account=tenant.account, actor=ACTOR)
    assert deleted.document == second
    assert selectors.registry_policy_of(tenant.id) is None
    with pytest.raises(RegistryPolicyNotFound, match="has no registry policy"):
        services.delete_registry_policy(account=tenant.account, actor=ACTOR)

    names = list(Event.objects.filter(recipient_account_id=tenant.id).order_by("sequence").values_list("event_name"))
    assert [n for (n,) in names if "RegistryPolicy" in n] == [
        "PutRegistryPolicy",
        "PutRegistryPolicy",
        "DeleteRegistryPolicy",
    ]
    put = Event.objects.filter(event_name="PutRegistryPolicy").order_by("sequence").last()
    assert (put.event_source, put.request_parameters, put.actor_type) == ("ecr", {"policyText": second}, "BerthService")


@pytest.mark.parametrize(
    ("statement", "complaint"),
    [
        ({"Action": ["ecr:BatchGetImage"]}, "grants only"),
        ({"Principal": {"AWS": "arn:aws:iam::210987654321:user/alice"}}, "principals are accounts"),
        ({"Principal": {"AWS": "arn:aws:iam::210987654321:role/ci"}}, "principals are accounts"),
        ({"Resource": None}, "no Resource"),
        ({"Principal": {"Service": "ecr.amazonaws.com"}}, "unsupported principal type"),
        ({"Resource": "not-an-arn"}, "is not an ARN"),
    ],
)
def test_a_policy_a_registry_cannot_hold_is_refused_naming_the_statement(tenant, statement, complaint):
    raw = {**grant(tenant.id), **statement}
    raw = {key: value for key, value in raw.items() if value is not None}
    with pytest.raises(RegistryPolicyInvalid, match=complaint) as refused:
        services.put_registry_policy(account=tenant.account, document=document(raw), actor=ACTOR)
    assert 'Statement 1 (Sid "ReplicationAccess")' in refused.value.message
    assert not RegistryPolicy.objects.exists()
    assert not Event.objects.filter(event_name="PutRegistryPolicy").exists()


def test_malformed_json_is_refused(tenant):
    with pytest.raises(RegistryPolicyInvalid, match="malformed JSON"):
        services.put_registry_policy(account=tenant.account, document="{", actor=ACTOR)


def test_principals_in_other_deployments_need_not_exist_and_ecr_wildcards_are_accepted(tenant):
    """An account of another Berth deployment is not known here; ecr:* is valid (ECR allows it)."""
    text = document(grant(tenant.id, [STRANGER, f"arn:berth:iam::{SOURCE}:root"], action=["ecr:*"]))
    assert services.put_registry_policy(account=tenant.account, document=text, actor=ACTOR).document == text


# -- decide ---------------------------------------------------------------------------


def put(tenant, *statements):
    services.put_registry_policy(account=tenant.account, document=document(*statements), actor=ACTOR)


def test_allowed_for_the_account_the_policy_names_in_any_of_its_spellings(tenant):
    for principal in (f"arn:aws:iam::{SOURCE}:root", f"arn:berth:iam::{SOURCE}:root", SOURCE, "*"):
        put(tenant, grant(tenant.id, principal))
        decision = decide(
            account_id=tenant.id,
            principal_account_id=SOURCE,
            action="ecr:ReplicateImage",
            resource_arn=repository_arn(tenant.id, "team/app"),
        )
        assert decision.allowed, (principal, decision.explanation)
        assert 'registry policy: Sid "ReplicationAccess"' in decision.explanation


def test_without_a_policy_nothing_is_allowed_to_another_account(tenant):
    decision = decide(
        account_id=tenant.id,
        principal_account_id=SOURCE,
        action="ecr:ReplicateImage",
        resource_arn=repository_arn(tenant.id, "app"),
    )
    assert not decision.allowed
    assert decision.explanation == (
        f"no registry policy of account {tenant.id} allows ecr:ReplicateImage for {SOURCE}: "
        "the account has no registry policy"
    )


def test_an_account_needs_no_policy_for_its_own_registry(tenant):
    decision = decide(
        account_id=tenant.id,
        principal_account_id=tenant.id,
        action="ecr:CreateRepository",
        resource_arn=repository_arn(tenant.id, "app"),
    )
    assert decision.allowed


def test_another_principal_or_action_than_granted_is_refused(tenant):
    put(tenant, grant(tenant.id, action=["ecr:ReplicateImage"]))
    stranger = decide(
        account_id=tenant.id,
        principal_account_id=STRANGER,
        action="ecr:ReplicateImage",
        resource_arn=repository_arn(tenant.id, "app"),
    )
    assert not stranger.allowed
    assert stranger.explanation.startswith(
        f"no registry policy of account {tenant.id} allows ecr:ReplicateImage for {STRANGER}"
    )
    create = decide(
        account_id=tenant.id,
        principal_account_id=SOURCE,
        action="ecr:CreateRepository",
        resource_arn=repository_arn(tenant.id, "app"),
    )
    assert not create.allowed


def test_a_deny_wins_over_an_allow(tenant):
    put(
        tenant,
        grant(tenant.id),
        grant(tenant.id, Sid="NoProd", Effect="Deny", Resource=f"arn:aws:ecr:*:{tenant.id}:repository/prod/*"),
    )
    arguments = {"account_id": tenant.id, "principal_account_id": SOURCE, "action": "ecr:ReplicateImage"}
    assert decide(**arguments, resource_arn=repository_arn(tenant.id, "dev/app")).allowed
    denied = decide(**arguments, resource_arn=repository_arn(tenant.id, "prod/app"))
    assert not denied.allowed
    assert "denied by account" in denied.explanation and 'Sid "NoProd"' in denied.explanation


def test_resources_match_with_wildcards_segment_by_segment(tenant):
    put(tenant, grant(tenant.id, Resource=f"arn:aws:ecr:local-a:{tenant.id}:repository/team-*"))
    arguments = {"account_id": tenant.id, "principal_account_id": SOURCE, "action": "ecr:ReplicateImage"}
    assert decide(**arguments, resource_arn=repository_arn(tenant.id, "team-a/app")).allowed
    assert not decide(**arguments, resource_arn=repository_arn(tenant.id, "other/app")).allowed
    assert not decide(**arguments, resource_arn=repository_arn(tenant.id, "team-a/app", region="local-b")).allowed
    assert not decide(**arguments, resource_arn=repository_arn(STRANGER, "team-a/app")).allowed


def test_a_resource_that_is_no_arn_is_refused_with_the_reason(tenant):
    put(tenant, grant(tenant.id))
    decision = decide(
        account_id=tenant.id, principal_account_id=SOURCE, action="ecr:ReplicateImage", resource_arn="app"
    )
    assert not decision.allowed and "is not an ARN" in decision.explanation


def test_a_condition_on_the_request_holds_only_when_met(tenant):
    put(tenant, grant(tenant.id, principal="*", Condition={"StringEquals": {"aws:PrincipalAccount": SOURCE}}))
    arguments = {
        "account_id": tenant.id,
        "action": "ecr:ReplicateImage",
        "resource_arn": repository_arn(tenant.id, "a"),
    }
    assert decide(**arguments, principal_account_id=SOURCE).allowed
    assert not decide(**arguments, principal_account_id=STRANGER).allowed


# -- the API --------------------------------------------------------------------------

URL = "/api/v1/registry/policy"


def test_get_put_delete_with_ecr_shapes(api_client, tenant):
    client = api_client(tenant)
    missing = client.get(URL)
    assert missing.status_code == 404
    assert missing.json() == {
        "code": "registry_policy_not_found",
        "detail": f"registry {tenant.id} has no registry policy: put one first (PutRegistryPolicy)",
    }
    text = document(grant(tenant.id))
    stored = client.put(URL, {"policyText": text}, format="json")
    assert stored.status_code == 200, stored.content
    assert stored.json() == {"registryId": tenant.id, "policyText": text}
    assert client.get(URL).json() == {"registryId": tenant.id, "policyText": text}
    assert Event.objects.filter(event_name="PutRegistryPolicy", recipient_account_id=tenant.id).count() == 1

    deleted = client.delete(URL)
    assert deleted.status_code == 200 and deleted.json() == {"registryId": tenant.id, "policyText": text}
    assert client.delete(URL).status_code == 404
    assert Event.objects.filter(event_name="DeleteRegistryPolicy", error_code="").count() == 1
    assert Event.objects.filter(event_name="DeleteRegistryPolicy").exclude(error_code="").count() == 1


def test_an_invalid_policy_is_a_400_naming_the_field(api_client, tenant):
    refused = api_client(tenant).put(
        URL, {"policyText": document(grant(tenant.id, action=["ecr:PutImage"]))}, format="json"
    )
    assert refused.status_code == 400
    body = refused.json()
    assert body["errors"][0]["field"] == "policyText" and body["errors"][0]["code"] == "policy_invalid"
    assert "grants only" in body["detail"]
    assert api_client(tenant).put(URL, {}, format="json").status_code == 400


def test_iam_decides_who_may_read_and_write_the_policy(api_client, tenant):
    services.create_user(account=tenant.account, username="reader", actor=ACTOR)
    reader = get_user_model().objects.get(membership__user_name="reader")
    read_only = services.create_policy(
        account=tenant.account,
        name="ReadRegistryPolicy",
        document=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ecr:GetRegistryPolicy", "Resource": "*"}],
            }
        ),
        actor=ACTOR,
    )
    services.attach_policy(account=tenant.account, managed_policy=read_only, user=reader, actor=ACTOR)
    new_key = account_services.create_access_key(actor=ACTOR, user=reader)
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(new_key.access_key.access_key_id, new_key.secret))

    text = document(grant(tenant.id))
    refused = client.put(URL, {"policyText": text}, format="json")
    assert refused.status_code == 403 and "ecr:PutRegistryPolicy" in refused.json()["detail"]
    assert client.delete(URL).status_code == 403
    assert client.get(URL).status_code == 404  # allowed to ask; there is none
    api_client(tenant).put(URL, {"policyText": text}, format="json")
    assert client.get(URL).json()["policyText"] == text
    assert api_client().get(URL).status_code in (401, 403)


def test_each_account_sees_only_its_own_policy(api_client, tenant, other_tenant):
    api_client(tenant).put(URL, {"policyText": document(grant(tenant.id))}, format="json")
    assert api_client(other_tenant).get(URL).status_code == 404

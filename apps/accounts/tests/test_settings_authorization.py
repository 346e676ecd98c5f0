"""The settings page goes through the same authorization as the API: reading the
account's registry is ecr-public:DescribeRegistries, asking for an alias is
berth:RequestAlias; the root may do both, an IAM user what its policies grant."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from apps.accounts.models import AliasRequest
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.iam import services as iam_services
from apps.iam.models import ManagedPolicy

pytestmark = pytest.mark.django_db


def iam_user(tenant, name: str, *actions: str):
    user = iam_services.create_user(
        actor=Actor.system("test"), account=tenant.account, username=f"{name}-{tenant.id}", password="an-iam-passphrase"
    )
    if actions:
        document = json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
        )
        managed_policy = iam_services.create_policy(
            actor=Actor.system("test"), account=tenant.account, name=f"{name}-policy", document=document
        )
        iam_services.attach_policy(
            actor=Actor.system("test"), account=tenant.account, managed_policy=managed_policy, user=user
        )
    return user


def ask_for_alias(client, name="shipyard"):
    return client.post("/accounts/settings", {"alias": name}, REMOTE_ADDR="192.0.2.10")


def test_the_root_sees_the_account_and_asks_for_an_alias(client, tenant):
    client.force_login(get_user_model().objects.get(username=tenant.username))
    page = client.get("/accounts/settings")
    assert page.status_code == 200
    assert tenant.id in page.content.decode() and tenant.alias in page.content.decode()
    assert ask_for_alias(client).status_code == 302
    assert AliasRequest.objects.get().name == "shipyard"
    event = Event.objects.get(event_name="RequestAlias")
    assert (event.event_source, event.actor_type, event.source_ip) == ("berth", "Root", "192.0.2.10")


def test_an_iam_user_without_policies_sees_which_permission_is_missing_and_nothing_of_the_account(client, tenant):
    client.force_login(iam_user(tenant, "intern"))
    page = client.get("/accounts/settings")
    body = page.content.decode()
    assert page.status_code == 403
    assert "ecr-public:DescribeRegistries" in body
    assert tenant.id not in body.replace(f"intern-{tenant.id}", "").replace(f"::{tenant.id}:", "")
    assert tenant.alias not in body
    refused = ask_for_alias(client)
    assert refused.status_code == 403 and "ecr-public:DescribeRegistries" in refused.content.decode()
    assert not AliasRequest.objects.exists()
    refusals = Event.objects.filter(event_source="ecr-public", event_name="DescribeRegistries")
    assert [event.error_code for event in refusals] == ["AccessDenied", "AccessDenied"]


def test_an_iam_user_who_may_read_but_not_ask_sees_the_account_and_is_refused_the_request(client, tenant):
    client.force_login(iam_user(tenant, "reader", "ecr-public:DescribeRegistries"))
    page = client.get("/accounts/settings")
    body = page.content.decode()
    assert page.status_code == 200 and tenant.alias in body
    assert "berth:RequestAlias" in body and 'name="alias"' not in body
    refused = ask_for_alias(client)
    assert refused.status_code == 403 and "berth:RequestAlias" in refused.content.decode()
    assert not AliasRequest.objects.exists()


def test_an_iam_user_granted_the_action_asks_for_an_alias(client, tenant):
    user = iam_user(tenant, "publisher", "ecr-public:DescribeRegistries", "berth:RequestAlias")
    client.force_login(user)
    assert 'name="alias"' in client.get("/accounts/settings").content.decode()
    assert ask_for_alias(client).status_code == 302
    alias_request = AliasRequest.objects.get()
    assert (alias_request.name, alias_request.requested_by, alias_request.account) == ("shipyard", user, tenant.account)


def test_full_registry_access_does_not_include_asking_for_an_alias(client, tenant):
    user = iam_user(tenant, "ci")
    full_access = ManagedPolicy.objects.get(name="BerthRegistryFullAccess")
    iam_services.attach_policy(
        actor=Actor.system("test"), account=tenant.account, managed_policy=full_access, user=user
    )
    client.force_login(user)
    assert client.get("/accounts/settings").status_code == 200
    assert ask_for_alias(client).status_code == 403

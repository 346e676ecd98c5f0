"""IAM writes called with no request record their audit event with the actor they
are given, named after the IAM operation."""

from __future__ import annotations

import json

import pytest

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.iam import services
from apps.repositories import services as repository_services

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
TRUST = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
)
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]})


def recorded() -> list[tuple[str, str, str, str]]:
    return [
        (e.event_name, e.event_source, e.actor_type, e.recipient_account_id) for e in Event.objects.order_by("sequence")
    ]


def test_users_policies_and_roles_record_their_operations(tenant):
    account = tenant.account
    user = services.create_user(account=account, username="ci", password="", actor=SYSTEM)
    managed = services.create_policy(account=account, name="Push", document=POLICY, actor=SYSTEM)
    services.attach_policy(account=account, managed_policy=managed, user=user, actor=SYSTEM)
    services.detach_policy(managed_policy=managed, user=user, actor=SYSTEM)
    role = services.create_role(account=account, name="Deployer", trust_policy=TRUST, actor=SYSTEM)
    services.attach_policy(account=account, managed_policy=managed, role=role, actor=SYSTEM)
    services.update_trust_policy(role=role, document=TRUST, actor=SYSTEM)
    services.delete_role(role=role, actor=SYSTEM)
    services.delete_policy(managed_policy=managed, actor=SYSTEM)
    services.delete_user(user=user, actor=SYSTEM)
    assert recorded() == [
        (name, "iam", "BerthService", tenant.id)
        for name in (
            "CreateUser",
            "CreatePolicy",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "CreateRole",
            "AttachRolePolicy",
            "UpdateAssumeRolePolicy",
            "DeleteRole",
            "DeletePolicy",
            "DeleteUser",
        )
    ]
    attach = Event.objects.get(event_name="AttachUserPolicy")
    assert attach.request_parameters == {"userName": "ci", "policyArn": managed.arn}
    assert Event.objects.get(event_name="CreateUser").request_parameters == {"userName": "ci", "loginProfile": False}


def test_repository_policies_record_their_ecr_operations(tenant):
    repository = repository_services.create_repository(account=tenant.account, name="app", actor=SYSTEM)
    document = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}]}
    )
    services.set_repository_policy(repository=repository, document=document, actor=SYSTEM)
    assert services.delete_repository_policy(repository=repository, actor=SYSTEM)
    assert not services.delete_repository_policy(repository=repository, actor=SYSTEM)  # nothing to delete: no event
    assert recorded() == [
        ("CreateRepository", "ecr", "BerthService", tenant.id),
        ("SetRepositoryPolicy", "ecr", "BerthService", tenant.id),
        ("DeleteRepositoryPolicy", "ecr", "BerthService", tenant.id),
    ]
    assert {e.repository for e in Event.objects.all()} == {"app"}

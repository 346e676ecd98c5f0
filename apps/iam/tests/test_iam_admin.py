"""The staff console shows IAM's tables read-only; staff end a role session by deleting it."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.iam import selectors, services
from apps.iam.models import RoleSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(db, settings) -> Client:
    # The admin's pages name static files; the tests run without collectstatic's manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    staff = get_user_model().objects.create_superuser(username="staff", password="x", email="staff@example.com")
    client = Client()
    client.force_login(staff)
    return client


def test_staff_see_iam_tables_and_end_a_session(staff_client, tenant):
    trust = json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": tenant.id}, "Action": "sts:AssumeRole"}]}
    )
    role = services.create_role(actor=Actor.system("test"), account=tenant.account, name="Deployer", trust_policy=trust)
    root = selectors.caller_for_user(get_user_model().objects.get(username=tenant.username))
    assumed = services.assume_role(caller=root, role_arn=role.arn, session_name="ci-1", source_ip="10.0.0.1")
    for model in ("managedpolicy", "role", "rolesession", "repositorypolicy"):
        response = staff_client.get(f"/admin/iam/{model}/")
        assert response.status_code == 200, model
    assert staff_client.get("/admin/accounts/rootuser/").status_code == 200  # the accounts app's model
    page = staff_client.get(f"/admin/iam/rolesession/{assumed.session.pk}/change/")
    assert assumed.session.access_key_id.encode() in page.content
    assert assumed.session.secret_hash.encode() not in page.content
    assert staff_client.get("/admin/iam/role/add/").status_code == 403
    staff_client.post(f"/admin/iam/rolesession/{assumed.session.pk}/delete/", {"post": "yes"})
    assert not RoleSession.objects.filter(pk=assumed.session.pk).exists()
    ended = Event.objects.get(event_name="EndRoleSession")
    assert (ended.actor_type, ended.actor_username, ended.recipient_account_id) == ("BerthStaff", "staff", tenant.id)
    assert ended.request_parameters == {
        "roleArn": role.arn,
        "roleSessionName": "ci-1",
        "accessKeyId": assumed.session.access_key_id,
    }

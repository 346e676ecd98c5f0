"""Quotas in the console (docs/quotas.md): the overview shows each as used / limit, in
the page's query budget; a new repository past the quota is refused with the quota's
message and nothing is created."""

from __future__ import annotations

import re

import pytest

from apps.accounts import services as account_services
from apps.accounts.tests.test_settings_authorization import iam_user
from apps.audit.events import Actor
from apps.repositories import services as repository_services
from apps.repositories.models import Repository

from .test_overview import page_text

pytestmark = pytest.mark.django_db


def set_quota(tenant, **limits) -> None:
    given = {"storage_bytes": None, "repositories": None, "images_per_repository": None, **limits}
    account_services.set_account_quota(account=tenant.account, actor=Actor.staff("ops"), **given)


def test_the_overview_shows_each_quota_used_and_its_limit(root_client, tenant, registry_client, within_budget):
    client = registry_client(tenant)
    client.push_image(f"{tenant.id}/web", "1")
    client.push_image(f"{tenant.id}/web", "2")
    set_quota(tenant, repositories=1, storage_bytes=10 * 1024 * 1024)
    response = within_budget(root_client, "/console")
    body = response.content.decode()
    text = " ".join(page_text(response).split())
    assert 'id="quotas"' in body
    assert "Repositories 1 1 reached" in text
    assert "Images per repository 2 (fullest: web) unlimited" in text
    assert re.search(r"Storage bytes [0-9.]+ K?i?B 10\.0 MiB Repositories", text), text


def test_the_quotas_are_shown_to_who_may_describe_every_repository(client, tenant):
    client.force_login(iam_user(tenant, "intern"))
    body = client.get("/console").content.decode()
    assert 'id="quotas"' not in body


def test_a_new_repository_past_the_quota_is_refused_and_none_is_made(root_client, tenant):
    repository_services.create_repository(account=tenant.account, name="one", actor=Actor.system("test"))
    set_quota(tenant, repositories=1)
    response = root_client.post(
        "/console/new-repository",
        {"name": "two", "visibility": "private", "image_tag_mutability": "MUTABLE", "resource_tags": ""},
    )
    assert response.status_code == 409
    assert f"quota exceeded: repositories of account {tenant.id}: limit 1, current 1" in page_text(response)
    assert list(Repository.objects.filter(account=tenant.account).values_list("name", flat=True)) == ["one"]

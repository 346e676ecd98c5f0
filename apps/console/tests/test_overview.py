"""Getting started (`/console`): the account, its aliases, the commands for this host,
how to sign in to the registry, the first access key, and a few counts, in a
handful of queries however much the account holds."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth import get_user_model

from apps.accounts import services as account_services
from apps.accounts.models import Alias
from apps.accounts.tests.test_settings_authorization import iam_user
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.iam import services as iam_services
from apps.repositories import services as repository_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def read_events_off(settings):
    """Read events are spooled by the server (no query of the page's); the tests write
    them at once, with queries of their own, so a query budget leaves them out."""
    settings.BERTH_AUDIT_READ_EVENTS = False


def page_text(response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", response.content.decode()))


def create(tenant, name: str, **settings):
    return repository_services.create_repository(
        account=tenant.account, name=name, actor=Actor.system("test"), **settings
    )


def test_the_root_sees_its_account_aliases_and_the_commands_for_this_host(root_client, tenant):
    Alias.objects.create(account=tenant.account, name="shipyard-tools", is_default=False, is_primary=False)
    response = root_client.get("/console")
    body = response.content.decode()
    text = page_text(response)
    assert response.status_code == 200
    assert f'<code id="account-id">{tenant.id}</code>' in body
    aliases = re.search(r'<ul class="alias-list" id="aliases">(.*?)</ul>', body, re.S).group(1)
    primary = re.search(r"<li>(.*?)</li>", aliases, re.S).group(1)
    assert tenant.alias in primary and "primary" in primary
    assert "shipyard-tools" in aliases
    assert f"docker login testserver -u {tenant.username}" in text
    assert f"docker tag my-app:1.0 testserver/{tenant.id}/my-app:1.0" in text
    assert f"docker push testserver/{tenant.id}/my-app:1.0" in text
    assert f"docker push testserver/{tenant.alias}/my-tool:1.0" in text
    assert "berth get-login-password | docker login --username berth --password-stdin testserver" in text
    assert 'data-copy-target="cmd-login"' in body and 'data-copy-target="cmd-push-public"' in body
    assert 'href="/console/new-repository"' in body and 'href="/console/repositories"' in body
    assert 'aria-current="page">Getting started' in body


def test_the_commands_name_the_public_url_and_the_account_s_own_repositories(root_client, tenant, settings):
    settings.BERTH_PUBLIC_URL = "https://registry.example.com"
    create(tenant, "team/api")
    create(tenant, "tools/cli", visibility="public")
    text = page_text(root_client.get("/console"))
    assert "docker login registry.example.com -u" in text
    assert f"docker push registry.example.com/{tenant.id}/team/api:1.0" in text
    assert f"docker push registry.example.com/{tenant.alias}/tools/cli:1.0" in text
    assert "berth configure --endpoint https://registry.example.com" in text


def test_an_account_that_does_not_create_on_push_is_told_to_create_first(root_client, tenant):
    tenant.account.create_on_push = False
    tenant.account.save(update_fields=["create_on_push"])
    text = page_text(root_client.get("/console"))
    assert "does not create repositories on push" in text


def test_a_user_without_access_keys_is_offered_the_first_one(root_client, tenant):
    body = root_client.get("/console").content.decode()
    form = re.search(r'<form method="post" action="/console/iam/access-keys">(.*?)</form>', body, re.S)
    assert form is not None
    assert 'name="csrfmiddlewaretoken"' in form.group(1)
    assert 'name="action" value="create"' in form.group(1)
    assert '<button type="submit"' in form.group(1) and "Create your first access key" in form.group(1)


def test_a_user_with_an_access_key_is_sent_to_manage_them(root_client, tenant):
    user = get_user_model().objects.get(username=tenant.username)
    account_services.create_access_key(user=user, actor=Actor.system("test"))
    body = root_client.get("/console").content.decode()
    assert 'action="/console/iam/access-keys"' not in body
    assert 'href="/console/iam/access-keys"' in body


def test_counts_and_budget_with_many_repositories_and_images(
    root_client, tenant, other_tenant, registry_client, within_budget, read_events_off
):
    for n in range(12):
        create(tenant, f"svc-{n:02d}", visibility="public" if n % 3 == 0 else "private")
    client = registry_client(tenant)
    for n in range(3):
        client.push_image(f"{tenant.id}/svc-{n + 1:02d}", "1.0", seed=bytes([n]))
    client.push_image(f"{tenant.id}/svc-01", "2.0", seed=b"again")
    create(other_tenant, "elsewhere")
    registry_client(other_tenant).push_image(f"{other_tenant.id}/elsewhere", "1.0")

    response = within_budget(root_client, "/console")
    body = response.content.decode()
    assert '<strong id="repository-count">12</strong>' in body
    assert "8 private · 4 public" in page_text(response)
    assert '<strong id="image-count">4</strong>' in body


def test_an_iam_user_without_policies_still_gets_started(client, tenant):
    create(tenant, "secret-project")
    user = iam_user(tenant, "intern")
    client.force_login(user)
    response = client.get("/console")
    body = response.content.decode()
    text = page_text(response)
    assert response.status_code == 200
    assert f"docker login testserver -u {tenant.id}/intern-{tenant.id}" in text
    assert '<strong id="repository-count">0</strong>' in body and "secret-project" not in body
    assert 'id="aliases"' not in body  # the alias list takes ecr-public:DescribeRegistries
    assert 'action="/console/iam/access-keys"' not in body and "iam:CreateAccessKey" in body
    described = Event.objects.get(event_name="DescribeRepositories", actor_username=f"intern-{tenant.id}")
    assert described.error_code == ""


def test_an_iam_user_counts_what_its_policies_let_it_describe(client, tenant, within_budget, read_events_off):
    create(tenant, "team/one")
    create(tenant, "other")
    user = iam_user(tenant, "dev", "ecr-public:DescribeRegistries", "iam:CreateAccessKey")
    document = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:DescribeRepositories", '
        f'"Resource": "arn:aws:ecr:*:{tenant.id}:repository/team/*"}}]}}'
    )
    policy = iam_services.create_policy(
        actor=Actor.system("test"), account=tenant.account, name="team", document=document
    )
    iam_services.attach_policy(actor=Actor.system("test"), account=tenant.account, managed_policy=policy, user=user)
    client.force_login(user)
    body = within_budget(client, "/console").content.decode()
    assert '<strong id="repository-count">1</strong>' in body
    assert 'id="aliases"' in body
    assert 'action="/console/iam/access-keys"' in body

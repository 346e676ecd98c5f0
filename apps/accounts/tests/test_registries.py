"""An account's public registry: Amazon ECR Public's DescribeRegistries (aliases with
their primary and default flags, the verified flag) and registry catalog data."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.db import DataError, IntegrityError, transaction
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts import registries
from apps.accounts.models import Account, Alias
from apps.audit.events import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(tenant, api_client) -> APIClient:
    return api_client(tenant)


def describe(client) -> dict:
    response = client.get("/api/v1/registries")
    assert response.status_code == 200, response.content
    (registry,) = response.json()["registries"]
    return registry


# -- DescribeRegistries -----------------------------------------------------------------


def test_a_new_account_has_one_registry_with_its_default_alias_primary(tenant, alice):
    assert describe(alice) == {
        "registryId": tenant.id,
        "registryUri": f"testserver/{tenant.alias}",
        "verified": False,
        "aliases": [
            {"name": tenant.alias, "status": "ACTIVE", "primaryRegistryAlias": True, "defaultRegistryAlias": True}
        ],
    }
    assert Alias.objects.get(account=tenant.account).is_primary


def test_the_uri_follows_the_public_url(tenant, alice, settings):
    settings.BERTH_PUBLIC_URL = "https://registry.example.com/"
    assert describe(alice)["registryUri"] == f"registry.example.com/{tenant.alias}"


def test_another_alias_made_primary(tenant, alice):
    default = Alias.objects.get(account=tenant.account)
    Alias.objects.create(account=tenant.account, name="zeta-tools")
    acme = Alias.objects.create(account=tenant.account, name="acme")
    registries.make_alias_primary(alias=acme)

    registry = describe(alice)
    assert registry["registryUri"] == "testserver/acme"
    assert registry["aliases"] == [
        {"name": "acme", "status": "ACTIVE", "primaryRegistryAlias": True, "defaultRegistryAlias": False},
        {"name": default.name, "status": "ACTIVE", "primaryRegistryAlias": False, "defaultRegistryAlias": True},
        {"name": "zeta-tools", "status": "ACTIVE", "primaryRegistryAlias": False, "defaultRegistryAlias": False},
    ]
    # And back: still exactly one primary.
    registries.make_alias_primary(alias=default)
    assert list(Alias.objects.filter(account=tenant.account, is_primary=True)) == [default]
    assert describe(alice)["registryUri"] == f"testserver/{default.name}"


def test_the_database_holds_one_primary_alias_per_account(tenant, other_tenant):
    with pytest.raises(IntegrityError), transaction.atomic():
        Alias.objects.create(account=tenant.account, name="second-primary", is_primary=True)
    # Another account's primary alias is no conflict.
    assert Alias.objects.filter(is_primary=True).count() == 2


def test_a_default_alias_never_made_primary_counts_as_primary(tenant, alice):
    """Rows from before primary aliases existed; the migration marks them, this is the belt to its braces."""
    Alias.objects.filter(account=tenant.account).update(is_primary=False)
    Alias.objects.create(account=tenant.account, name="acme")
    registry = describe(alice)
    assert registry["registryUri"] == f"testserver/{tenant.alias}"
    assert [(a["name"], a["primaryRegistryAlias"]) for a in registry["aliases"]] == [
        (tenant.alias, True),
        ("acme", False),
    ]


def test_the_migration_makes_default_aliases_primary(tenant, other_tenant):
    migration = importlib.import_module("apps.accounts.migrations.0003_registry_catalog_data_and_primary_alias")
    Alias.objects.update(is_primary=False)
    extra = Alias.objects.create(account=tenant.account, name="not-the-default")
    migration.make_default_aliases_primary(django_apps, None)
    assert set(Alias.objects.filter(is_primary=True).values_list("name", flat=True)) == {
        tenant.alias,
        other_tenant.alias,
    }
    extra.refresh_from_db()
    assert not extra.is_primary


def test_verified_is_staffs_to_set(tenant, alice):
    assert describe(alice)["verified"] is False
    Account.objects.filter(pk=tenant.id).update(verified=True)
    assert describe(alice)["verified"] is True
    # Nothing the account owner sends changes it.
    alice.put("/api/v1/registry/catalog-data", {"displayName": "Alice", "verified": False}, format="json")
    assert Account.objects.get(pk=tenant.id).verified is True


def test_each_account_sees_only_its_own_registry(tenant, other_tenant, alice, api_client):
    mine, theirs = describe(alice), describe(api_client(other_tenant))
    assert mine["registryId"] == tenant.id and theirs["registryId"] == other_tenant.id
    assert [a["name"] for a in theirs["aliases"]] == [other_tenant.alias]
    assert APIClient().get("/api/v1/registries").status_code == 401


def test_a_user_outside_any_account_has_no_registry(db):
    staff = get_user_model().objects.create_user(username="operator", password="x", is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)
    response = client.get("/api/v1/registries")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


# -- registry catalog data --------------------------------------------------------------


def test_display_name_put_and_get(tenant, other_tenant, alice, api_client):
    assert alice.get("/api/v1/registry/catalog-data").json() == {"displayName": ""}
    response = alice.put("/api/v1/registry/catalog-data", {"displayName": "Alice Tools"}, format="json")
    assert (response.status_code, response.json()) == (200, {"displayName": "Alice Tools"})
    assert alice.get("/api/v1/registry/catalog-data").json() == {"displayName": "Alice Tools"}
    assert api_client(other_tenant).get("/api/v1/registry/catalog-data").json() == {"displayName": ""}
    cleared = alice.put("/api/v1/registry/catalog-data", {"displayName": ""}, format="json")
    assert cleared.json() == {"displayName": ""}
    assert Account.objects.get(pk=tenant.id).display_name == ""


def test_display_name_is_at_most_100_characters(tenant, alice):
    at_limit = "N" * 100
    assert alice.put("/api/v1/registry/catalog-data", {"displayName": at_limit}, format="json").status_code == 200
    over = alice.put("/api/v1/registry/catalog-data", {"displayName": at_limit + "N"}, format="json")
    assert over.status_code == 400
    assert [(e["field"], e["code"]) for e in over.json()["errors"]] == [("displayName", "max_length")]
    assert Account.objects.get(pk=tenant.id).display_name == at_limit


def test_display_name_is_required_and_printable(tenant, alice):
    missing = alice.put("/api/v1/registry/catalog-data", {}, format="json")
    assert [(e["field"], e["code"]) for e in missing.json()["errors"]] == [("displayName", "required")]
    control = alice.put("/api/v1/registry/catalog-data", {"displayName": "Alice\nTools"}, format="json")
    assert [(e["field"], e["code"]) for e in control.json()["errors"]] == [("displayName", "invalid")]
    with pytest.raises(registries.DisplayNameInvalid):
        registries.put_registry_catalog_data(actor=Actor.system("test"), account=tenant.account, display_name="x" * 101)
    # PostgreSQL's varchar(100) refuses it before the check constraint does (DataError); SQLite's check does.
    with pytest.raises((DataError, IntegrityError)), transaction.atomic():
        Account.objects.filter(pk=tenant.id).update(display_name="x" * 101)


# -- the staff admin ---------------------------------------------------------------------


@pytest.fixture
def staff_client(db, settings) -> Client:
    # The admin's pages name static files; the tests run without collectstatic's manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    admin = get_user_model().objects.create_superuser(username="root", password="x", email="root@example.com")
    client = Client()
    client.force_login(admin)
    return client


def test_staff_switch_the_primary_alias_and_see_verified(tenant, staff_client):
    acme = Alias.objects.create(account=tenant.account, name="acme")
    response = staff_client.post(
        "/admin/accounts/alias/", {"action": "make_primary", "_selected_action": [acme.pk]}, follow=True
    )
    assert response.status_code == 200
    assert list(Alias.objects.filter(account=tenant.account, is_primary=True)) == [acme]

    other = Alias.objects.create(account=tenant.account, name="other")
    staff_client.post("/admin/accounts/alias/", {"action": "make_primary", "_selected_action": [acme.pk, other.pk]})
    assert list(Alias.objects.filter(account=tenant.account, is_primary=True)) == [acme]

    page = staff_client.get(f"/admin/accounts/account/{tenant.id}/change/")
    assert page.status_code == 200
    assert b'name="verified"' in page.content and b'name="display_name"' in page.content

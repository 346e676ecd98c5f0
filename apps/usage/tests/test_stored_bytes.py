"""Stored bytes two ways (apps.registry.selectors.stored_bytes and
account_stored_bytes): what a repository references, and what deleting it frees."""

from __future__ import annotations

import pytest

from apps.registry import selectors
from apps.repositories.models import Repository

pytestmark = pytest.mark.django_db


def _ids(tenant, *names):
    return [Repository.objects.get(account_id=tenant.id, name=name).pk for name in names]


def test_a_repository_references_each_blob_it_links_and_frees_only_those_nobody_else_links(
    tenant, other_tenant, shared_estate
):
    e = {name: len(data) for name, data in shared_estate.items()}
    a, b = _ids(tenant, "a", "b")
    (c,) = _ids(other_tenant, "c")
    figures = selectors.stored_bytes([a, b, c])

    assert figures[a].referenced == e["config_a"] + e["common"] + e["own"] + e["manifest_a"]
    assert figures[a].exclusive == e["config_a"] + e["own"] + e["manifest_a"]  # `common` is b's too
    assert figures[b].referenced == e["config_b"] + e["common"] + e["wide"] + e["manifest_b"]
    assert figures[b].exclusive == e["config_b"] + e["manifest_b"]  # `wide` is another account's too
    assert figures[c].exclusive == e["config_c"] + e["manifest_c"]
    assert figures[a].images == figures[b].images == 1


def test_an_account_counts_a_blob_its_repositories_share_once(tenant, shared_estate):
    e = {name: len(data) for name, data in shared_estate.items()}
    account = selectors.account_stored_bytes(tenant.id)
    assert account.referenced == (
        e["config_a"] + e["config_b"] + e["common"] + e["own"] + e["wide"] + e["manifest_a"] + e["manifest_b"]
    )
    # `common` is shared within the account only: deleting all of it frees that too; `wide` it keeps.
    assert account.exclusive == account.referenced - e["wide"]
    assert account.images == 2


def test_an_empty_repository_and_an_empty_account_store_nothing(tenant, make_tenant):
    from apps.audit.events import Actor
    from apps.repositories import services

    empty = services.create_repository(actor=Actor.system("test"), account=tenant.account, name="empty")
    assert selectors.stored_bytes([empty.pk]) == {}
    assert selectors.account_stored_bytes(make_tenant("nobody").id) == selectors.StoredBytes()


def test_a_page_of_repositories_costs_two_queries_whatever_its_size(tenant, shared_estate, django_assert_num_queries):
    ids = list(Repository.objects.values_list("pk", flat=True))
    with django_assert_num_queries(2):
        selectors.stored_bytes(ids)
    with django_assert_num_queries(2):
        selectors.stored_bytes(ids[:1])
    with django_assert_num_queries(2):
        selectors.account_stored_bytes(tenant.id)

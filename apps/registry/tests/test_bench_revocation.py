"""What asking whether a token's credential still holds costs a manifest GET
(apps.iam.credentials, read in find_repository's query). In-process, on the test
database (SQLite, or PostgreSQL with DATABASE_URL):

    .venv/bin/python -m pytest -m bench apps/registry/tests/test_bench_revocation.py -s

It times the repository look-up with and without the credential's subquery (and
the comparison after it), in alternating rounds, and whole manifest GETs through
Django's test client for scale; it prints microseconds per call."""

from __future__ import annotations

import statistics
import time

import pytest
from django.test import Client

from apps.iam import credentials
from apps.registry.tokens import verify_token
from apps.repositories.selectors import find_repository

pytestmark = [pytest.mark.bench, pytest.mark.django_db]

ROUNDS = 7
LOOKUPS = 2000
GETS = 400


def _per_call_us(function, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        function()
    return (time.perf_counter() - started) / count * 1e6


def test_cost_of_the_credential_check_on_a_manifest_get(tenant, registry_client, settings):
    # The tests record events synchronously; a server spools pulls, which this leaves out.
    settings.BERTH_AUDIT_READ_EVENTS = False
    name = f"{tenant.id}/app"
    client = registry_client(tenant)
    client.push_image(name, "latest")
    token = client.token(f"repository:{name}:pull")
    caller = verify_token(token).caller
    liveness = credentials.liveness_query(caller, account_read_too=True)  # a pull from its own account

    def plain():
        find_repository(name)

    def checked():
        repository = find_repository(name, also_select=liveness)
        assert credentials.holds(caller, repository.also_selected) and not repository.account_suspended

    http = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_ACCEPT": "application/vnd.oci.image.manifest.v1+json"}

    def manifest_get():
        assert http.get(f"/v2/{name}/manifests/latest", **headers).status_code == 200

    for warm_up in (plain, checked, manifest_get):
        _per_call_us(warm_up, 50)
    plain_us, checked_us, get_us = [], [], []
    for _ in range(ROUNDS):
        plain_us.append(_per_call_us(plain, LOOKUPS))
        checked_us.append(_per_call_us(checked, LOOKUPS))
        get_us.append(_per_call_us(manifest_get, GETS))
    added = statistics.median(c - p for c, p in zip(checked_us, plain_us))
    get = statistics.median(get_us)
    print(
        f"\nrepository look-up: {statistics.median(plain_us):.1f} µs; with the credential check: "
        f"{statistics.median(checked_us):.1f} µs; added: {added:.1f} µs a request, "
        f"{added / get * 100:.1f} % of a manifest GET ({get:.0f} µs in-process)"
    )
    assert liveness is not None and plain_us and checked_us

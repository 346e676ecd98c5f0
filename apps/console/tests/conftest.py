"""Fixtures for the console's pages: a signed-in root user of the ``tenant`` account,
and the query budget every console page keeps."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

# No console page runs more than this many queries, however much the account holds
# (issue 18): session, user, account, then the page's own few.
PAGE_QUERY_BUDGET = 10


@pytest.fixture(autouse=True)
def _static_files_without_manifest(settings):
    # The pages name static files; the tests run without collectstatic's manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _mail_kept_in_memory(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def root_client(client, tenant):
    """The test client signed in as ``tenant``'s root user."""
    client.force_login(get_user_model().objects.get(username=tenant.username))
    return client


@pytest.fixture
def within_budget(django_assert_max_num_queries, settings):
    """``within_budget(client, url)``: GETs ``url``, asserts the page answered 200 in no
    more than PAGE_QUERY_BUDGET queries, and returns the response.

    The tests write audit events synchronously (BERTH_AUDIT_SYNCHRONOUS), a read's
    too; a server spools a read's event to a file and its ingester writes it later,
    outside the request. So the page's own queries are counted as a server runs
    them: without the read's event written in the request."""

    def get(client, url: str, *, budget: int = PAGE_QUERY_BUDGET, status: int = 200):
        settings.BERTH_AUDIT_READ_EVENTS = False
        with django_assert_max_num_queries(budget):
            response = client.get(url)
        settings.BERTH_AUDIT_READ_EVENTS = True
        assert response.status_code == status, response.content.decode()[:2000]
        return response

    return get

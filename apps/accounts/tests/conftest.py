"""Fixtures for the account pages and the staff console."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.audit.events import Actor
from apps.iam.selectors import caller_for_user

STAFF_PASSWORD = "staff-console-passphrase"
# The staff_user fixture, as the audit trail names it.
STAFF = Actor.staff("operator")


def actor_of(user) -> Actor:
    """How the audit trail names ``user`` acting in its own account."""
    return caller_for_user(user).actor()


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
def staff_user(db):
    """A staff operator outside any account, as `berth createsuperuser` makes one."""
    return get_user_model().objects.create_superuser(
        username="operator", email="operator@example.com", password=STAFF_PASSWORD
    )


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client

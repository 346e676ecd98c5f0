"""The console's frame: sign-in required, a user outside every account is told so,
another account's repository is never found, and a refusal names the permission."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from apps.console.converters import RepositoryNameConverter

pytestmark = pytest.mark.django_db


def test_the_console_asks_for_a_sign_in(client):
    response = client.get("/console")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login?next=/console")


def test_a_user_outside_every_account_is_sent_to_the_staff_console(client):
    staff = get_user_model().objects.create_superuser(username="operator", email="o@example.com", password="x-y-z-w")
    client.force_login(staff)
    response = client.get("/console")
    assert response.status_code == 404 and "staff console" in response.content.decode()


@pytest.mark.parametrize(
    "path, name",
    [("team/app", "team/app"), ("a", "a"), ("team/app-1.2__x", "team/app-1.2__x")],
)
def test_the_repository_converter_takes_whole_names(path, name):
    assert re.fullmatch(RepositoryNameConverter.regex, path).group(0) == name


@pytest.mark.parametrize("path", ["team/app/-/settings", "Team/app", "team//app", "-", "team/-"])
def test_the_repository_converter_refuses_what_is_no_name(path):
    assert re.fullmatch(RepositoryNameConverter.regex, path) is None

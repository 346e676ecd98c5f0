"""NUL characters on the site's pages (gallery, accounts, staff admin): in a path,
a query parameter or a form field they would reach a PostgreSQL query, which
refuses them; every page answers with a readable 400 instead, on both databases."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

STAFF_PASSWORD = "staff-password-1234"


@pytest.fixture
def site(client):
    client.raise_request_exception = False  # a server error is a response to look at
    return client


@pytest.fixture
def staff(site):
    get_user_model().objects.create_superuser("operator", "operator@example.com", STAFF_PASSWORD)
    assert site.login(username="operator", password=STAFF_PASSWORD)
    return site


def assert_bad_request_page(response, says: str) -> None:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<h1>Bad request</h1>" in page and says in page


@pytest.mark.parametrize(
    "path", ["/search?q=%00", "/search?q=a&os=Linux%00", "/search?page=1%00", "/accounts/login?next=/%00"]
)
def test_nul_in_a_query_parameter_is_a_bad_request(site, path):
    assert_bad_request_page(site.get(path), "NUL character (%00) in its parameter")


def test_nul_in_a_path_is_a_bad_request(site, tenant):
    for path in (f"/{tenant.alias}%00", f"/{tenant.alias}/app%00", "/accounts/password-reset/a%00/b"):
        assert_bad_request_page(site.get(path), "The address of this page holds a NUL character")


@pytest.mark.parametrize(
    "path, form",
    [
        ("/accounts/login", {"username": "a\x00b", "password": "x"}),
        ("/accounts/signup", {"username": "bob", "email": "bob@example.com", "password1": "x\x00", "password2": "x"}),
        ("/accounts/password-reset", {"email": "a\x00@example.com"}),
    ],
)
def test_nul_in_a_form_field_is_a_bad_request(site, path, form):
    assert_bad_request_page(site.post(path, form), "The form field")


def test_the_staff_admin_refuses_nul_in_object_ids_filters_and_actions(staff, tenant):
    assert_bad_request_page(staff.get("/admin/accounts/account/a%00/change/"), "address of this page")
    assert_bad_request_page(staff.get("/admin/accounts/account/?id__exact=a%00"), "in its parameter")
    response = staff.post("/admin/accounts/account/", {"action": "delete_selected", "_selected_action": ["a\x00"]})
    assert_bad_request_page(response, "The form field “_selected_action”")
    assert staff.get("/admin/accounts/account/?q=a").status_code == 200

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from apps.accounts.authentication import check_password
from apps.accounts.models import Account, Alias
from apps.accounts.services import create_account
from apps.accounts.throttle import Throttled

pytestmark = pytest.mark.django_db


def test_create_account_command_prints_id_and_alias():
    out = StringIO()
    call_command(
        "create_account",
        "--name",
        "Acme",
        "--username",
        "alice",
        "--password",
        "a-long-passphrase",
        "--json",
        stdout=out,
    )
    result = json.loads(out.getvalue())
    assert re.fullmatch(r"[0-9]{12}", result["account_id"])
    assert re.fullmatch(r"[a-z][a-z0-9]{7}", result["alias"])
    account = Account.objects.get(pk=result["account_id"])
    assert account.default_alias == result["alias"]
    assert account.memberships.get().user.username == "alice"
    assert account.create_on_push is True


def test_ids_and_aliases_are_unique():
    accounts = [create_account(name=f"a{i}", username=f"user{i}", password="a-long-passphrase") for i in range(20)]
    assert len({a.id for a in accounts}) == 20
    assert len({a.default_alias for a in accounts}) == 20


def test_duplicate_username_and_weak_password_are_refused():
    create_account(name="a", username="bob", password="a-long-passphrase")
    with pytest.raises(CommandError, match="taken"):
        call_command("create_account", "--name", "b", "--username", "bob", "--password", "a-long-passphrase")
    with pytest.raises(CommandError, match="password"):
        call_command("create_account", "--name", "c", "--username", "carol", "--password", "123")


def test_database_refuses_bad_ids_and_all_digit_aliases():
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(id="12345", name="short")
    account = create_account(name="a", username="dave", password="a-long-passphrase")
    with pytest.raises(IntegrityError), transaction.atomic():
        Alias.objects.create(name="123456", account=account)


def test_create_repository_command():
    account = create_account(name="a", username="erin", password="a-long-passphrase")
    out = StringIO()
    call_command("create_repository", "--account", account.id, "--name", "tools/cli", "--public", "--json", stdout=out)
    assert json.loads(out.getvalue())["uri"] == f"{account.default_alias}/tools/cli"
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_repository", "--account", account.id, "--name", "tools/cli")
    with pytest.raises(CommandError, match="invalid repository name"):
        call_command("create_repository", "--account", account.id, "--name", "Upper/Case")


def test_password_check_remembers_success_but_not_after_a_change(settings):
    create_account(name="a", username="frank", password="a-long-passphrase")
    principal = check_password("frank", "a-long-passphrase", client_ip="127.0.0.1")
    assert principal.username == "frank" and principal.account_id
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="frank")
    user.set_password("another-long-passphrase")
    user.save()
    assert check_password("frank", "a-long-passphrase", client_ip="127.0.0.1") is None
    assert check_password("frank", "another-long-passphrase", client_ip="127.0.0.1") is not None


def test_throttling_is_per_user_and_address(settings):
    settings.BERTH_LOGIN_FAILURES_ALLOWED = 2
    create_account(name="a", username="grace", password="a-long-passphrase")
    for _ in range(2):
        assert check_password("grace", "wrong", client_ip="10.0.0.1") is None
    with pytest.raises(Throttled):
        check_password("grace", "a-long-passphrase", client_ip="10.0.0.1")
    assert check_password("grace", "a-long-passphrase", client_ip="10.0.0.2") is not None

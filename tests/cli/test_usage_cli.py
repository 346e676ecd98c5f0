"""`berth usage` and the two sizes of `berth repo list|describe`, against a live server."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.cli.test_cli_e2e import Cli, _new_user

# The client's side of each command; the server's figures are tested on both databases in apps/usage.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent(pass_="postgres")]


@pytest.fixture
def user(berth, tmp_path) -> Cli:
    user = _new_user(berth, tmp_path / "home", "Usage Co")
    user.configure()
    return user


def seed(cli: Cli) -> None:
    """Yesterday's snapshot, and pulls of `team/app` counted by the registry today."""
    account = cli.account.account_id
    code = textwrap.dedent(f"""
        import uuid
        from datetime import timedelta
        from django.utils import timezone
        from apps.accounts.models import Account
        from apps.accounts.services import set_account_quota
        from apps.audit.events import Actor
        from apps.repositories.services import create_repository
        from apps.usage import services

        today = timezone.now().date()
        repository = create_repository(actor=Actor.system("test"), account=Account.objects.get(pk="{account}"),
                                       name="team/app", visibility="public")
        services.take_snapshot(actor=Actor.system("test"), day=today - timedelta(days=1))
        set_account_quota(account=repository.account, storage_bytes=1073741824, repositories=1,
                          images_per_repository=None, actor=Actor.staff("ops"))
        def served(anonymous, size, requests):
            return {{"day": today.isoformat(), "repositoryId": repository.pk, "accountId": "{account}",
                    "repository": "team/app", "anonymous": anonymous, "bytes": size, "requests": requests}}
        services.add_served_bytes(batch_id=str(uuid.uuid4()), served=[served(True, 2_500_000, 3), served(False, 700, 2)])
    """)
    cli.server.cli("shell", "-c", code)


def test_usage_shows_the_account_its_repositories_and_the_days(user):
    seed(user)
    lines = user.ok("usage", "--days", "3").splitlines()
    assert lines[0].split() == ["Account:", user.account.account_id]
    header = next(index for index, line in enumerate(lines) if line.startswith("Repositories now (served: "))
    assert lines[header + 1].split() == ["REPOSITORY", "IMAGES", "REFERENCED", "EXCLUSIVE", "SERVED", "REQUESTS"]
    assert lines[header + 2].split() == ["team/app", "0", "0", "B", "0", "B", "2.4", "MiB", "5"]
    served = next(index for index, line in enumerate(lines) if line.startswith("Served per day"))
    assert lines[served + 1].split() == ["DAY", "ANONYMOUS", "REQUESTS", "SIGNED", "IN", "REQUESTS"]
    assert len(lines) == served + 2 + 3  # every day of the range
    assert lines[-1].split()[1:] == ["2.4", "MiB", "3", "700", "B", "2"]
    stored = lines.index("Stored per day (daily snapshots)")
    assert lines[stored + 3].split()[1] == "(now)"
    quotas = lines.index("Quotas (used / limit)")
    assert lines[quotas + 1].split() == ["QUOTA", "USED", "/", "LIMIT"]
    assert lines[quotas + 2].split() == ["Storage", "0", "B", "/", "1.0", "GiB"]
    assert lines[quotas + 3].split() == ["Repositories", "1", "/", "1"]
    assert lines[quotas + 4].split() == ["Images", "per", "repository", "0", "/", "unlimited"]

    body = user.json("usage", "--days", "3")
    assert json.loads(user.ok("usage", "--days", "3", "--json")) == body
    assert body["repositories"][0]["servedBytes"] == 2_500_700
    assert [day["live"] for day in body["stored"]] == [False, True]
    assert user.json("usage", "--repository", "team/app")["repository"] == "team/app"
    assert "does not exist" in user.fails("usage", "--repository", "nope")
    assert body["quotas"][1] == {"name": "repositories", "limit": 1, "used": 1, "repository": None}
    refused = user.fails("repo", "create", "team/more")
    assert f"quota exceeded: repositories of account {user.account.account_id}: limit 1, current 1" in refused


def test_bad_days_are_refused_before_asking(user):
    result = user.run("usage", "--days", "0")
    assert result.returncode == 2 and "--days" in result.stderr


def test_repo_list_and_describe_show_both_sizes(user):
    seed(user)
    header = user.ok("repo", "list").splitlines()[0].split()
    assert "REFERENCED" in header and "EXCLUSIVE" in header
    described = user.json("repo", "describe", "team/app")
    assert (described["referencedBytes"], described["exclusiveBytes"]) == (0, 0)
    assert "Exclusive:" in user.ok("repo", "describe", "team/app")

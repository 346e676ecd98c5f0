"""`berth pull-through-cache`, run as the real executable against a live server. The
server's answers are tested on both databases in apps/replication/tests."""

from __future__ import annotations

import socket

import pytest

from tests.cli.test_cli_e2e import Cli, _new_user


@pytest.fixture
def cli(berth, tmp_path) -> Cli:
    user = _new_user(berth, tmp_path / "home", "Cache Co")
    user.configure()
    return user


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.e2e
@pytest.mark.database_independent
def test_create_list_describe_update_validate_delete(cli):
    upstream = f"http://127.0.0.1:{_closed_port()}"
    created = cli.ok(
        "pull-through-cache", "create", "hub", "--upstream-registry-url", upstream,
        "--username", "robot", "--password-stdin", input="pw-on-stdin\n",
    )  # fmt: skip
    assert created == f"Created the rule hub -> {upstream}.\n"
    listed = cli.ok("pull-through-cache", "list")
    assert "hub" in listed and "robot" in listed and "pw-on-stdin" not in listed
    described = cli.json("pull-through-cache", "describe", "hub")
    assert described["credentials"] == {"username": "robot"} and described["credentialsConfigured"] is True
    assert "pw-on-stdin" not in str(described)
    updated = cli.json("pull-through-cache", "update", "hub", "--tag-recheck-seconds", "60", "--remove-credentials")
    assert (updated["tagRecheckSeconds"], updated["credentialsConfigured"]) == (60, False)
    assert "not valid" in cli.fails("pull-through-cache", "validate", "hub")
    usage = cli.run("pull-through-cache", "update", "hub", "--username", "x")
    assert usage.returncode == 2 and "--username needs the password on stdin" in usage.stderr
    assert "overlaps" in cli.fails("pull-through-cache", "create", "hub/more", "--upstream-registry-url", upstream)
    assert cli.ok("pull-through-cache", "delete", "hub") == "Deleted the pull-through cache rule hub.\n"
    assert "no pull-through cache rule" in cli.fails("pull-through-cache", "describe", "hub")
    assert cli.ok("pull-through-cache", "list") == "No pull-through cache rules.\n"

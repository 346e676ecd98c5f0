"""`berth registry policy` and `berth registry templates`, run as the real executable
against a live server. The server's answers are tested on both databases in
apps/iam/tests/test_registry_policy.py and apps/repositories/tests/test_creation_templates.py."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli_e2e import Cli, _new_user

SOURCE = "210987654321"


@pytest.fixture
def cli(berth, tmp_path) -> Cli:
    user = _new_user(berth, tmp_path / "home", "Registry Co")
    user.configure()
    return user


def _registry_policy(account_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReplicationAccess",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"},
                    "Action": ["ecr:ReplicateImage", "ecr:CreateRepository"],
                    "Resource": f"arn:aws:ecr:*:{account_id}:repository/*",
                }
            ],
        },
        indent=2,
    )


@pytest.mark.e2e
@pytest.mark.database_independent
def test_registry_policy_put_get_delete(cli):
    account_id = cli.account.account_id
    assert "has no registry policy" in cli.fails("registry", "policy", "get")
    path = cli.home / "registry-policy.json"
    text = _registry_policy(account_id)
    path.write_text(text)
    assert cli.ok("registry", "policy", "put", "--file", str(path)) == f"Put the registry policy of {account_id}.\n"
    assert cli.ok("registry", "policy", "get") == text + "\n"
    assert cli.json("registry", "policy", "get") == {"registryId": account_id, "policyText": text}
    assert cli.ok("registry", "policy", "put", "--file", "-", input=text) == (
        f"Put the registry policy of {account_id}.\n"
    )
    assert cli.ok("registry", "policy", "delete") == f"Deleted the registry policy of {account_id}.\n"
    assert "has no registry policy" in cli.fails("registry", "policy", "delete")
    path.write_text(text.replace("ecr:CreateRepository", "ecr:PutImage"))
    refused = cli.fails("registry", "policy", "put", "--file", str(path))
    assert "a registry policy grants only" in refused and 'Sid "ReplicationAccess"' in refused

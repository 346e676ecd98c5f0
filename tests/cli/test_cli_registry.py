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


LIFECYCLE_POLICY = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
                "action": {"type": "expire"},
            }
        ]
    }
)


@pytest.mark.e2e
@pytest.mark.database_independent
def test_templates_create_list_describe_update_delete(cli):
    lifecycle = cli.home / "lifecycle.json"
    lifecycle.write_text(LIFECYCLE_POLICY)
    created = cli.json(
        "registry", "templates", "create", "prod/team",
        "--applied-for", "REPLICATION", "--applied-for", "PULL_THROUGH_CACHE",
        "--description", "team images", "--image-tag-mutability", "IMMUTABLE", "--tag", "team=platform",
        "--lifecycle-policy", str(lifecycle), "--encryption-type", "AES256",
    )  # fmt: skip
    template = created["repositoryCreationTemplate"]
    assert (template["prefix"], template["appliedFor"], template["lifecyclePolicy"]) == (
        "prod/team",
        ["REPLICATION", "PULL_THROUGH_CACHE"],
        LIFECYCLE_POLICY,
    )
    assert template["resourceTags"] == [{"key": "team", "value": "platform"}]
    cli.ok("registry", "templates", "create", "ROOT", "--applied-for", "PULL_THROUGH_CACHE")

    header, *rows = cli.ok("registry", "templates", "list").splitlines()
    assert header.split()[:3] == ["PREFIX", "APPLIED", "FOR"]
    assert [row.split()[0] for row in rows] == ["ROOT", "prod/team"]
    only = cli.json("registry", "templates", "list", "--prefix", "prod/team")
    assert [t["prefix"] for t in only["repositoryCreationTemplates"]] == ["prod/team"]

    described = cli.ok("registry", "templates", "describe", "prod/team")
    assert "Description:" in described and "team images" in described and "team=platform" in described
    assert "AES256" in described and '"rulePriority": 1' in described

    updated = cli.json(
        "registry", "templates", "update", "prod/team", "--no-lifecycle-policy", "--description", "changed"
    )["repositoryCreationTemplate"]
    assert (updated["description"], updated["lifecyclePolicy"], updated["imageTagMutability"]) == (
        "changed",
        "",
        "IMMUTABLE",
    )
    assert "say what to change" in cli.run("registry", "templates", "update", "prod/team").stderr

    refused = cli.fails(
        "registry", "templates", "create", "dev", "--applied-for", "REPLICATION", "--repository-policy", "-", input="{"
    )
    assert "invalid repositoryPolicy" in refused and "malformed JSON" in refused
    assert (
        cli.ok("registry", "templates", "delete", "prod/team")
        == "Deleted the repository creation template prod/team.\n"
    )
    assert "has no repository creation template for prefix prod/team" in cli.fails(
        "registry", "templates", "describe", "prod/team"
    )

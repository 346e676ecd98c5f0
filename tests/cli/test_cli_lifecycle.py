"""`berth repo lifecycle`, run as the real executable against a live server, and its
rendering of a preview. The server's answers are tested on both databases in
apps/lifecycle/tests."""

from __future__ import annotations

import json

import pytest

from berth_cli.commands.lifecycle_policies import _render_preview
from tests.cli.test_cli_e2e import Cli, _new_user

# An example of Amazon ECR's user guide ("Filtering on image count"), as printed there.
POLICY = """{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Keep only one untagged image, expire all others",
            "selection": {
                "tagStatus": "untagged",
                "countType": "imageCountMoreThan",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""


@pytest.fixture
def cli(berth, tmp_path) -> Cli:
    user = _new_user(berth, tmp_path / "home", "Lifecycle Co")
    user.configure()
    return user


@pytest.mark.e2e
@pytest.mark.database_independent
def test_put_get_preview_delete(cli):
    cli.server.create_repository(cli.account.account_id, "team/app")
    path = cli.home / "policy.json"
    path.write_text(POLICY)
    assert cli.ok("repo", "lifecycle", "put", "team/app", "--file", str(path)) == (
        "Put the lifecycle policy of team/app.\n"
    )
    assert cli.ok("repo", "lifecycle", "get", "team/app") == POLICY + "\n"
    assert cli.ok("repo", "lifecycle", "preview", "team/app", "--wait") == "The policy expires no image now.\n"
    previewed = cli.json("repo", "lifecycle", "preview", "team/app", "--file", str(path))
    assert (previewed["status"], previewed["summary"]) == ("COMPLETE", {"expiringImageTotalCount": 0})
    assert cli.ok("repo", "lifecycle", "delete", "team/app") == "Deleted the lifecycle policy of team/app.\n"
    assert "has no lifecycle policy" in cli.fails("repo", "lifecycle", "get", "team/app")
    path.write_text(json.dumps({"rules": [{"rulePriority": 1}]}).ljust(120))
    refused = cli.fails("repo", "lifecycle", "put", "team/app", "--file", str(path))
    assert 'Lifecycle policy validation failure: object has missing required properties (["action","selection"])' in (
        refused.replace(", ", ",")
    )


@pytest.mark.database_independent
def test_a_preview_renders_one_row_per_image_and_a_count():
    preview = {
        "status": "COMPLETE",
        "summary": {"expiringImageTotalCount": 1},
        "previewResults": [
            {
                "imageDigest": "sha256:" + "ab" * 32,
                "imageTags": ["v1"],
                "imagePushedAt": "2026-01-02T03:04:05+00:00",
                "lastPulledAt": None,
                "appliedRulePriority": 3,
                "alsoExpires": ["sha256:" + "cd" * 32],
                "action": {"type": "EXPIRE"},
            }
        ],
    }
    header, row, _, count = _render_preview(preview).splitlines()
    assert header.split() == ["DIGEST", "TAGS", "PUSHED", "LAST", "PULLED", "RULE", "ALSO", "EXPIRES"]
    assert row.split()[:2] == ["sha256:abababababab", "v1"]
    assert row.split()[-2:] == ["3", "1"]
    assert count == "1 image(s) would expire."

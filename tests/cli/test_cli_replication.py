"""`berth registry replication`, `berth registry backfill` and `berth images
replication-status`, run as the real executable against a live server (its worker
makes the copies). The server's side is tested on both databases in
apps/replication/tests/."""

from __future__ import annotations

import json
import time

import pytest

from tests.cli.test_cli_e2e import Cli, _new_user
from tests.e2e import images as I
from tests.e2e.conftest import need, run_isolated

DEADLINE = 60


def _wait_for(cli: Cli, repository: str, tag: str, status: str) -> dict:
    deadline = time.monotonic() + DEADLINE
    while True:
        data = cli.json("images", "replication-status", repository, "--tag", tag)
        if data["replicationStatuses"] and all(s["status"] == status for s in data["replicationStatuses"]):
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.5)


@pytest.mark.e2e
@pytest.mark.database_independent
def test_replication_commands(berth, tmp_path):
    need("skopeo")
    source = _new_user(berth, tmp_path / "source", "Replication Source Co")
    target = _new_user(berth, tmp_path / "target", "Replication Target Co")
    source.configure()
    target.configure()
    config = tmp_path / "replication.json"
    config.write_text(
        json.dumps(
            {
                "rules": [
                    {
                        "destinations": [{"region": "local", "registryId": target.account.account_id}],
                        "repositoryFilters": [{"filter": "team/", "filterType": "PREFIX_MATCH"}],
                    }
                ]
            }
        )
    )
    assert source.ok("registry", "replication", "put", "--file", str(config)) == (
        "Put the replication configuration (1 rule(s)).\n"
    )
    assert json.loads(source.ok("registry", "replication", "get"))["rules"][0]["destinations"] == [
        {"region": "local", "registryId": target.account.account_id}
    ]
    image = I.build_oci_image(tmp_path / "oci", tag="v1")
    auth = tmp_path / "auth.json"
    source.ok("login", "--config-file", str(auth))
    run_isolated(
        ["skopeo", "copy", "--dest-tls-verify=false", "--authfile", str(auth), f"oci:{image.path}:v1",
         f"docker://{berth.host}/{source.account.account_id}/team/app:v1"],
        tmp_path / "skopeo",
        env=source.env,
    )  # fmt: skip
    # Without the target's registry policy: AccessDenied, shown as the reason.
    failed = _wait_for(source, "team/app", "v1", "FAILED")
    assert failed["replicationStatuses"][0]["failureCode"] == "AccessDenied"
    table = source.ok("images", "replication-status", "team/app", "--tag", "v1")
    assert "FAILED" in table and "AccessDenied" in table
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": source.account.account_id},
                        "Action": ["ecr:ReplicateImage", "ecr:CreateRepository"],
                        "Resource": f"arn:aws:ecr:*:{target.account.account_id}:repository/*",
                    }
                ],
            }
        )
    )
    target.ok("registry", "policy", "put", "--file", str(policy))
    source.ok("images", "replication-status", "team/app", "--tag", "v1", "--retry")
    done = _wait_for(source, "team/app", "v1", "COMPLETE")
    assert done["imageId"]["imageDigest"] == image.manifest_digest
    assert target.json("images", "list", "team/app")["imageIds"] == [
        {"imageTag": "v1", "imageDigest": image.manifest_digest}
    ]
    assert "give the image as --tag or --digest" in source.fails("images", "replication-status", "team/app")

    started = source.json("registry", "backfill", "start", "--rule", "0")
    assert started["total"] == 1
    described = source.ok("registry", "backfill", "describe", started["backfillId"], "--wait")
    assert described.startswith(f"Back-fill {started['backfillId']}: COMPLETE")
    assert started["backfillId"] in source.ok("registry", "backfill", "list")
    stopped = source.json("registry", "backfill", "stop", started["backfillId"])
    assert stopped["status"] == "COMPLETE"
    assert "no replication back-fill" in source.fails("registry", "backfill", "describe", "nope")

"""Replication between two live Berth deployments (issue 17): A in region local-a,
B in local-b, each with its own database, data directory, worker and beat. An
account on A replicates `team/` to an account on B (B creates repositories on
push) and `shared/` to another account inside A.

Pushes go to A with skopeo, pulls come from B with skopeo, digests compared; an
index and a signature referrer arrive; B is killed (SIGKILL, every process of it)
mid-copy of a ~60 MiB image and restarted on the same data: the copy resumes and
completes; a repository no filter matches is not copied; a copy inside A without
the destination account's registry policy is FAILED AccessDenied until the policy
is put and the copy retried."""

from __future__ import annotations

import json
import os
import signal
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from apps.replication.client import RegistryClient
from tests.e2e import images as I
from tests.e2e.conftest import BerthServer, need, processes_marked, run_isolated
from tests.live_database import server_database

# Replication's logic runs on both databases in-process (apps/replication/tests); the two
# live deployments (a minute and a half) run in the PostgreSQL + Redis pass, the scaled-out set-up.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent(pass_="postgres")]

DEADLINE = 60
ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"
# A's worker retries soon and often, so a restarted B is found within seconds.
FAST_RETRIES = {
    "BERTH_REPLICATION_RETRY_BASE_SECONDS": "1",
    "BERTH_REPLICATION_RETRY_MAX_SECONDS": "3",
    "BERTH_REPLICATION_MAX_ATTEMPTS": "30",
    "BERTH_REPLICATION_CLIENT_ATTEMPTS": "2",
    "BERTH_REPLICATION_TIMEOUT_SECONDS": "10",
    "BERTH_REPLICATION_SWEEP_SECONDS": "5",
    "BERTH_REPLICATION_REQUEUE_SECONDS": "20",
    "BERTH_REPLICATION_LEASE_SECONDS": "60",
}


class Api:
    def __init__(self, server: BerthServer, account) -> None:
        self.server = server
        response = requests.post(
            f"{server.url}/api/v1/auth/access-keys",
            json={"username": account.username, "password": account.password},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        self.session = requests.Session()
        self.session.auth = (body["accessKeyId"], body["secretAccessKey"])

    def call(self, method: str, path: str, **kwargs):
        response = self.session.request(method, f"{self.server.url}/api/v1/{path}", timeout=30, **kwargs)
        assert response.status_code in (200, 201), f"{method} {path}: {response.status_code} {response.text[:2000]}"
        return response.json()

    def statuses(self, repository: str, **image) -> list[dict]:
        path = f"repositories/{repository}/-/images/replication-status"
        return self.call("GET", path, params=image)["replicationStatuses"]

    def wait_for(self, repository: str, status: str, **image) -> list[dict]:
        deadline = time.monotonic() + DEADLINE
        while True:
            statuses = self.statuses(repository, **image)
            if statuses and all(s["status"] == status for s in statuses):
                return statuses
            assert time.monotonic() < deadline, f"{repository} {image}: {statuses}"
            time.sleep(0.3)


class Deployments:
    def __init__(self, root: Path, stack) -> None:
        self.servers = {}
        for region in ("local-a", "local-b"):
            data_dir = root / region / "data"
            data_dir.mkdir(parents=True)
            server = BerthServer(data_dir, stack.enter_context(server_database(data_dir)))
            server.env["BERTH_REGION"] = region
            server.env.update(FAST_RETRIES)
            self.servers[region] = server
        self.a, self.b = self.servers["local-a"], self.servers["local-b"]


@pytest.fixture(scope="module")
def deployments(tmp_path_factory):
    with ExitStack() as stack:
        both = Deployments(tmp_path_factory.mktemp("replication"), stack)
        try:
            for server in both.servers.values():
                server.launch()
            for server in both.servers.values():
                server.wait_until_ready()
            both.source = both.a.create_account("Replication Source")
            both.peer = both.a.create_account("Replication Peer")
            both.target = both.b.create_account("Replication Target")
            both.api = Api(both.a, both.source)
            both.api.call(
                "PUT",
                "registry/replication-configuration",
                json={
                    "replicationConfiguration": {
                        "rules": [
                            {
                                "destinations": [
                                    {
                                        "region": "local-b",
                                        "registryId": both.target.account_id,
                                        "endpoint": both.b.url,
                                        "credentials": {
                                            "username": both.target.username,
                                            "password": both.target.password,
                                        },
                                    }
                                ],
                                "repositoryFilters": [{"filter": "team/", "filterType": "PREFIX_MATCH"}],
                            },
                            {
                                "destinations": [{"region": "local-a", "registryId": both.peer.account_id}],
                                "repositoryFilters": [{"filter": "shared/", "filterType": "PREFIX_MATCH"}],
                            },
                        ]
                    }
                },
            )
            yield both
        finally:
            for server in both.servers.values():
                server.stop()


def push(tmp: Path, server: BerthServer, account, layout: Path, tag: str, repository: str, *extra: str) -> None:
    run_isolated(
        ["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", account.creds, *extra,
         f"oci:{layout}:{tag}", f"docker://{server.host}/{account.account_id}/{repository}:{tag}"],
        tmp / "skopeo",
    )  # fmt: skip


def digest_at(tmp: Path, server: BerthServer, account, reference: str) -> str:
    result = run_isolated(
        ["skopeo", "inspect", "--tls-verify=false", "--creds", account.creds, "--format", "{{.Digest}}",
         f"docker://{server.host}/{account.account_id}/{reference}"],
        tmp / "skopeo",
        check=False,
    )  # fmt: skip
    return result.stdout.strip() if result.returncode == 0 else ""


def push_signature(server: BerthServer, account, repository: str, subject: str, subject_size: int) -> str:
    """An OCI 1.1 artifact manifest whose subject is ``subject`` (a cosign-style signature)."""
    with RegistryClient(server.url, username=account.username, password=account.password) as client:
        path = f"{account.account_id}/{repository}"
        empty, payload = b"{}", json.dumps({"critical": {"image": {"docker-manifest-digest": subject}}}).encode()
        for data in (empty, payload):
            digest = I.sha256_digest(data)
            client.upload_blob(path, digest, len(data), lambda offset, data=data: [data[offset:]])
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": ARTIFACT_TYPE,
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": I.sha256_digest(empty),
                           "size": 2},
                "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                            "digest": I.sha256_digest(payload), "size": len(payload)}],
                "subject": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": subject,
                            "size": subject_size},
            }
        ).encode()  # fmt: skip
        return client.put_manifest(path, I.sha256_digest(body), body, "application/vnd.oci.image.manifest.v1+json")


def test_images_indexes_and_signatures_reach_the_other_deployment(deployments, tmp_path):
    need("skopeo")
    d = deployments
    image = I.build_oci_image(tmp_path / "image", tag="v1")
    index = I.build_multiarch_index(tmp_path / "index", tag="multi")
    push(tmp_path, d.a, d.source, image.path, "v1", "team/app")
    push(tmp_path, d.a, d.source, index.path, "multi", "team/app", "--all")
    signature = push_signature(d.a, d.source, "team/app", index.index_digest, len(index.index))
    d.api.wait_for("team/app", "COMPLETE", imageTag="v1")
    d.api.wait_for("team/app", "COMPLETE", imageTag="multi")
    d.api.wait_for("team/app", "COMPLETE", imageDigest=signature)
    assert digest_at(tmp_path, d.b, d.target, "team/app:v1") == image.manifest_digest
    assert digest_at(tmp_path, d.b, d.target, "team/app:multi") == index.index_digest
    # The whole index pulls from B, every platform.
    run_isolated(
        ["skopeo", "copy", "--all", "--src-tls-verify=false", "--src-creds", d.target.creds,
         f"docker://{d.b.host}/{d.target.account_id}/team/app:multi", f"oci:{tmp_path / 'pulled'}:multi"],
        tmp_path / "skopeo",
    )  # fmt: skip
    pulled = json.loads((tmp_path / "pulled" / "index.json").read_text())["manifests"][0]["digest"]
    assert pulled == index.index_digest
    with RegistryClient(d.b.url, username=d.target.username, password=d.target.password) as b:
        referrers = b.referrers(f"{d.target.account_id}/team/app", index.index_digest)
    assert [(r.digest, r.artifact_type) for r in referrers] == [(signature, ARTIFACT_TYPE)]


def _kill(server: BerthServer) -> None:
    for pid in processes_marked(server.mark):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.proc.wait(timeout=10)
    server._log.close()
    server._log = None


def test_a_copy_cut_by_killing_the_destination_resumes_when_it_is_back(deployments, tmp_path):
    need("skopeo")
    d = deployments
    layers = [{f"big/{n}.bin": os.urandom(20 * 1024 * 1024)} for n in range(3)]
    image = I.build_image_from_layers(tmp_path / "big", "v1", layers)
    uploads = d.b.data_dir / "uploads"
    spooled_before = set(uploads.glob("*")) if uploads.is_dir() else set()
    push(tmp_path, d.a, d.source, image.path, "v1", "team/big")
    deadline = time.monotonic() + DEADLINE
    while not (set(uploads.glob("*")) - spooled_before if uploads.is_dir() else set()):
        assert time.monotonic() < deadline, "B never received the copy"
        time.sleep(0.005)
    _kill(d.b)
    statuses = d.api.statuses("team/big", imageTag="v1")
    assert statuses[0]["status"] == "IN_PROGRESS", statuses  # cut mid-copy, not after it
    time.sleep(2)  # A's worker meets a B that is down, and backs off
    d.b.start()
    d.api.wait_for("team/big", "COMPLETE", imageTag="v1")
    assert digest_at(tmp_path, d.b, d.target, "team/big:v1") == image.manifest_digest


def test_a_repository_no_filter_matches_is_not_copied(deployments, tmp_path):
    need("skopeo")
    d = deployments
    image = I.build_oci_image(tmp_path / "image", tag="v1")
    push(tmp_path, d.a, d.source, image.path, "v1", "other/app")
    marker = I.build_oci_image(tmp_path / "marker", tag="v1")
    push(tmp_path, d.a, d.source, marker.path, "v1", "team/marker")
    d.api.wait_for("team/marker", "COMPLETE", imageTag="v1")  # the worker has had the other push too
    assert d.api.statuses("other/app", imageTag="v1") == []
    assert digest_at(tmp_path, d.b, d.target, "other/app:v1") == ""


def test_a_copy_inside_a_without_the_registry_policy_is_access_denied_until_retried(deployments, tmp_path):
    need("skopeo")
    d = deployments
    image = I.build_oci_image(tmp_path / "image", tag="v1")
    push(tmp_path, d.a, d.source, image.path, "v1", "shared/app")
    [failed] = d.api.wait_for("shared/app", "FAILED", imageTag="v1")
    assert (failed["registryId"], failed["failureCode"]) == (d.peer.account_id, "AccessDenied")
    assert "ecr:ReplicateImage" in failed["failureReason"]
    peer = Api(d.a, d.peer)
    peer.call(
        "PUT",
        "registry/policy",
        json={
            "policyText": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{d.source.account_id}:root"},
                            "Action": ["ecr:ReplicateImage", "ecr:CreateRepository"],
                            "Resource": f"arn:aws:ecr:local-a:{d.peer.account_id}:repository/*",
                        }
                    ],
                }
            )
        },
    )
    d.api.call(
        "POST",
        "repositories/shared/app/-/images/replication-status/retry",
        json={"imageId": {"imageTag": "v1"}},
    )
    d.api.wait_for("shared/app", "COMPLETE", imageTag="v1")
    assert digest_at(tmp_path, d.a, d.peer, "shared/app:v1") == image.manifest_digest

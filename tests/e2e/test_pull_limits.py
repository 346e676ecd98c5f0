"""Pull limits on a live server (apps/registry/limits.py): a server of its own with
a tiny anonymous limit (1 pull a second, 3 at once); quick anonymous pulls of a
public manifest past the burst answer 429 TOOMANYREQUESTS with Retry-After, and
after that wait pulls are served again. Bounded: 7 pulls and a wait of a few
seconds. (The rest of the suite runs with the limits off:
registry_project/pytest_environment.py.)"""

from __future__ import annotations

import hashlib
import json
import os
import time

import redis
import requests

from tests.live_database import server_database

from .conftest import BerthServer

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_small_image(server: BerthServer, session: requests.Session, account, name: str) -> str:
    token = session.get(
        f"{server.url}/token",
        params={"service": "berth-registry", "scope": f"repository:{name}:pull,push"},
        auth=(account.username, account.password),
        timeout=30,
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    config, layer = b'{"architecture":"amd64","os":"linux"}', os.urandom(512)
    for blob in (config, layer):
        response = session.post(
            f"{server.url}/v2/{name}/blobs/uploads/",
            params={"digest": _digest(blob)},
            data=blob,
            headers=headers | {"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _digest(layer), "size": len(layer)}
            ],
        }
    ).encode()
    response = session.put(
        f"{server.url}/v2/{name}/manifests/1.0",
        data=manifest,
        headers=headers | {"Content-Type": MANIFEST_TYPE},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.headers["Docker-Content-Digest"]


def test_anonymous_pulls_past_the_burst_wait_for_retry_after(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with server_database(data_dir) as database_url:
        server = BerthServer(data_dir, database_url)
        server.env.update(
            {
                "BERTH_PULL_RATE_ANONYMOUS": "1",
                "BERTH_PULL_BURST_ANONYMOUS": "3",
                # One worker: without Redis each worker counts on its own.
                "BERTH_WEB_WORKERS": "1",
            }
        )
        if server.env.get("REDIS_URL"):  # a bucket left by an earlier run of this test
            redis.Redis.from_url(server.env["REDIS_URL"]).delete("berth:pull-limit:address:127.0.0.1")
        try:
            server.start()
            account = server.create_account("limits")
            server.create_repository(account.account_id, "app", public=True)
            session = requests.Session()
            session.trust_env = False
            digest = _push_small_image(server, session, account, f"{account.account_id}/app")

            name = f"{account.alias}/app"
            token = session.get(
                f"{server.url}/token",
                params={"service": "berth-registry", "scope": f"repository:{name}:pull"},
                timeout=30,
            ).json()["token"]
            pull_headers = {"Authorization": f"Bearer {token}", "Accept": MANIFEST_TYPE}
            url = f"{server.url}/v2/{name}/manifests/1.0"

            answers = [session.get(url, headers=pull_headers, timeout=30) for _ in range(5)]
            statuses = [answer.status_code for answer in answers]
            assert statuses[:3] == [200, 200, 200], statuses
            assert statuses[3:] == [429, 429], statuses  # five GETs take far less than the second a pull refills
            assert answers[0].headers["Docker-Content-Digest"] == digest
            refused = answers[4]
            assert refused.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
            assert refused.headers["RateLimit-Limit"] == "3"
            assert refused.headers["RateLimit-Remaining"] == "0"
            retry_after = int(refused.headers["Retry-After"])
            assert 1 <= retry_after <= 2
            assert int(refused.headers["RateLimit-Reset"]) >= retry_after

            time.sleep(retry_after + 0.2)
            again = session.get(url, headers=pull_headers, timeout=30)
            assert again.status_code == 200, again.text
            assert again.headers["RateLimit-Remaining"] == "0"
        finally:
            server.stop()

"""Metrics, probes and JSON logs on live servers.

* The session server (``berth``): after a skopeo push and pull, /metrics (with the
  token every test server gets) has the route counters, bytes in and out, and a
  Celery task's outcome: counted by the worker's pool process, summed with the web
  workers' counts through the multiprocess directory `berth serve` set up.
* A server with BERTH_LOG_FORMAT=json and no worker of its own (``--no-worker``),
  beside a standalone `berth worker` with BERTH_METRICS_BIND: every line both write
  is a JSON object, a request's lines carry the id of its X-Request-Id, and the
  worker's own listener has its task counts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e import images as I
from tests.e2e.conftest import BERTH_BIN, METRICS_TOKEN, BerthServer, _free_port, need, run_isolated
from tests.live_database import server_database

DETAILS_TASK = "apps.registry.tasks.record_image_details"


def get(url: str, *, token: str | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def scrape(url: str, *, token: str | None = METRICS_TOKEN) -> dict:
    status, _, body = get(url, token=token)
    assert status == 200, body
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def total(families: dict, name: str, **labels) -> float:
    family = families.get(name)
    if family is None:
        return 0
    return sum(
        sample.value
        for sample in family.samples
        if sample.name == name + "_total" and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def copy(tmp, src: str, dst: str, *, src_creds=None, dest_creds=None):
    args = ["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false"]
    args += ["--src-creds", src_creds] if src_creds else ["--src-no-creds"]
    args += ["--dest-creds", dest_creds] if dest_creds else ["--dest-no-creds"]
    run_isolated([*args, src, dst], tmp / "skopeo")


def test_metrics_after_a_push_and_a_pull(berth, tmp_path):
    need("skopeo")
    assert get(berth.url + "/metrics")[0] == 401
    assert get(berth.url + "/healthz")[0] == 200
    status, _, body = get(berth.url + "/readyz")
    assert status == 200 and json.loads(body)["status"] == "ready", body

    owner = berth.create_account("Metrics Co")
    image = I.build_oci_image(tmp_path / "image", tag="v1")
    ref = f"{berth.host}/{owner.account_id}/metrics:v1"
    copy(tmp_path, f"oci:{image.path}:v1", f"docker://{ref}", dest_creds=owner.creds)
    copy(tmp_path, f"docker://{ref}", f"oci:{tmp_path / 'pulled'}:v1", src_creds=owner.creds)

    # the push's post-push task (record_image_details) runs in the worker's pool process
    deadline = time.monotonic() + 30
    while True:
        families = scrape(berth.url + "/metrics")
        if total(families, "berth_celery_tasks", task=DETAILS_TASK, outcome="success") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert total(families, "berth_celery_tasks", task=DETAILS_TASK, outcome="success")
    assert total(families, "berth_http_requests", route="v2/<name>/manifests/<reference>", method="PUT", status="201")
    assert total(families, "berth_http_requests", route="v2/<name>/blobs/<digest>", method="GET", status="200")
    layer_bytes = sum(
        (image.path / "blobs" / "sha256" / digest.split(":", 1)[1]).stat().st_size for digest in image.layer_digests
    )
    assert total(families, "berth_http_request_body_bytes", route_class="upload") >= layer_bytes
    assert total(families, "berth_http_response_body_bytes", route_class="blob", method="GET") >= layer_bytes
    assert "berth_audit_spool_lag_seconds" in families and "berth_celery_queue_length" in families
    # every scrape-time source answered (the queue: Redis's LLEN on the PostgreSQL pass, the broker folder on SQLite's)
    assert {s.labels["source"]: s.value for s in families["berth_metrics_source_up"].samples} == {
        "uploads": 1,
        "queue": 1,
        "audit_spool": 1,
        "scans": 1,
    }


@pytest.fixture
def json_logging_server(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with server_database(data_dir) as database_url:
        server = BerthServer(data_dir, database_url)
        server.env["BERTH_LOG_FORMAT"] = "json"
        server.serve_options = ["--workers", "1", "--threads", "2", "--no-worker"]
        worker_log = tmp_path / "worker.log"
        metrics_port = _free_port()
        worker_env = dict(server.env, BERTH_METRICS_BIND=f"127.0.0.1:{metrics_port}")
        worker = None
        try:
            server.start()
            with open(worker_log, "wb") as log:
                worker = subprocess.Popen(
                    [str(BERTH_BIN), "worker"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=worker_env,
                    cwd=str(data_dir),
                    start_new_session=True,
                )
            yield server, worker_log, f"http://127.0.0.1:{metrics_port}"
        finally:
            if worker is not None:
                # killed outright: Celery's warm shutdown takes ~7 s, and this test has read its logs
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
            server.stop()


# What it checks (log lines, a worker's listener) is the same on either database: the SQLite pass runs it.
@pytest.mark.database_independent
def test_json_logs_carry_the_request_id_and_a_worker_has_its_own_metrics(json_logging_server):
    need("skopeo")
    server, worker_log, worker_metrics = json_logging_server
    status, headers, _ = get(server.url + "/v2/")
    assert status == 401
    request_id = headers["X-Request-Id"]
    owner = server.create_account("Json Co")
    image = I.build_oci_image(server.data_dir.parent / "image", tag="v1")
    copy(
        server.data_dir.parent,
        f"oci:{image.path}:v1",
        f"docker://{server.host}/{owner.account_id}/json:v1",
        dest_creds=owner.creds,
    )
    # the standalone worker's listener: its pool process's task counts
    deadline = time.monotonic() + 60
    while True:
        try:
            families = scrape(worker_metrics + "/metrics")
        except (OSError, AssertionError):
            families = {}
        if total(families, "berth_celery_tasks", task=DETAILS_TASK, outcome="success") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert total(families, "berth_celery_tasks", task=DETAILS_TASK, outcome="success")
    assert "berth_uploads_open" not in families  # the state is the web's to report

    server.wait_for_log(request_id, timeout=10)
    entries, not_json = [], []
    for path in (server.log_path, worker_log):
        for line in path.read_text().splitlines():
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    not_json.append(f"{path.name}: {line}")
    assert not not_json, "\n".join(not_json[:20])  # every line is one JSON object
    for entry in entries:
        assert {"time", "level", "logger", "message", "request_id"} <= set(entry), entry
    mine = [entry for entry in entries if entry["request_id"] == request_id]
    assert any(entry["logger"] == "gunicorn.access" and "GET /v2/" in entry["message"] for entry in mine), mine
    assert any(entry["logger"].startswith("celery") for entry in entries)

"""/healthz, /readyz and /metrics in process: the WSGI application as gunicorn calls
it (registry_project/ops.py answers in front of Django), and the request metrics
after requests through Django's test client."""

from __future__ import annotations

import io
import json
import logging
import os
from wsgiref.util import setup_testing_defaults

import pytest
from django.db import OperationalError, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from apps.registry import tasks as registry_tasks
from apps.registry.models import Manifest
from apps.scanning import tasks as scanning_tasks
from registry_project import health, instruments, logs, metrics
from registry_project.ops import OpsApplication

TOKEN = "scrape-me-" + "x" * 20


def _django_app(environ, start_response):
    start_response("418 I'm a teapot", [("Content-Type", "text/plain")])
    return [b"django"]


def call(app, path: str, *, method: str = "GET", headers: dict | None = None):
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "HTTP_HOST": "10.1.2.3:5000"}
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body


@pytest.fixture
def ops():
    return OpsApplication(_django_app)


def test_healthz_answers_without_the_database_or_a_known_host(ops, monkeypatch):
    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", _refused)
    status, headers, body = call(ops, "/healthz")
    assert status == 200 and json.loads(body)["status"] == "alive"
    assert headers["Cache-Control"] == "no-store"
    # everything else goes on to Django
    assert call(ops, "/v2/")[0] == 418
    assert call(ops, "/healthz", method="POST")[0] == 405


def _refused(self):
    raise OperationalError("connection refused (test)")


@pytest.mark.django_db
def test_readyz_names_each_check_and_what_failed(ops, settings, tmp_path, monkeypatch):
    settings.BERTH_BLOB_DIR = tmp_path / "blobs"
    settings.BERTH_AUDIT_SPOOL_DIR = tmp_path / "spool"
    settings.REDIS_URL = ""
    status, _, body = call(ops, "/readyz")
    assert status == 200, body
    assert json.loads(body) == {
        "status": "ready",
        "checks": {"database": "ok", "blob_store": "ok", "audit_spool": "ok"},
    }
    assert not [name for name in os.listdir(tmp_path / "blobs") if name.startswith(".readyz")]

    # Redis configured and down
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    status, _, body = call(ops, "/readyz")
    answer = json.loads(body)
    assert status == 503 and answer["status"] == "not ready" and answer["failed"] == ["redis"]
    assert "ConnectionError" in answer["checks"]["redis"]
    settings.REDIS_URL = ""

    # the store and the spool unwritable (a file where a directory should be: the tests run as root,
    # whom chmod does not stop)
    (tmp_path / "file").write_bytes(b"")
    settings.BERTH_BLOB_DIR = tmp_path / "file" / "blobs"
    settings.BERTH_AUDIT_SPOOL_DIR = tmp_path / "file" / "spool"
    status, _, body = call(ops, "/readyz")
    answer = json.loads(body)
    assert status == 503 and answer["failed"] == ["audit_spool", "blob_store"], answer
    assert answer["checks"]["database"] == "ok"

    # the database down
    settings.BERTH_BLOB_DIR = tmp_path / "blobs"
    settings.BERTH_AUDIT_SPOOL_DIR = tmp_path / "spool"
    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", _refused)
    status, _, body = call(ops, "/readyz")
    answer = json.loads(body)
    assert status == 503 and answer["failed"] == ["database"]
    assert "connection refused (test)" in answer["checks"]["database"]


def test_readyz_reports_a_hanging_check_as_timed_out(ops, settings, monkeypatch, tmp_path):
    import threading

    release = threading.Event()
    settings.BERTH_READYZ_TIMEOUT_SECONDS = 0.2
    monkeypatch.setattr(health, "checks", lambda: {"database": lambda: release.wait(5), "blob_store": lambda: None})
    try:
        status, _, body = call(ops, "/readyz")
    finally:
        release.set()
    answer = json.loads(body)
    assert status == 503 and answer["checks"] == {"database": "timed out after 0.2s", "blob_store": "ok"}


@pytest.mark.django_db
def test_metrics_need_the_token(ops, settings):
    settings.BERTH_METRICS_TOKEN = ""
    status, _, body = call(ops, "/metrics")
    assert status == 404 and b"BERTH_METRICS_TOKEN" in body

    settings.BERTH_METRICS_TOKEN = TOKEN
    status, headers, _ = call(ops, "/metrics")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert call(ops, "/metrics", headers={"Authorization": "Bearer wrong"})[0] == 401
    assert call(ops, "/metrics", headers={"Authorization": f"Basic {TOKEN}"})[0] == 401

    status, headers, body = call(ops, "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=")
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert {"berth_uploads_open", "berth_celery_queue_length", "berth_audit_spool_lag_seconds"} <= names

    # the separate listener's application: open unless a token is set
    settings.BERTH_METRICS_TOKEN = ""
    assert call(OpsApplication(_django_app, listener=True), "/metrics")[0] == 200


def _families(body: bytes) -> dict:
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def _value(family, **labels) -> float:
    return sum(
        sample.value
        for sample in family.samples
        if sample.name == family.name + "_total" and all(sample.labels.get(k) == v for k, v in labels.items())
    )


@pytest.mark.django_db
def test_requests_bytes_tasks_and_state_reach_the_scrape(tenant, registry_client, settings):
    client = registry_client(tenant)
    name = f"{tenant.id}/metrics"
    before = _families(metrics.exposition(state=False))
    digest, manifest = client.push_image(name, "v1")
    layer = manifest["layers"][0]["digest"]
    pull = client.token(f"repository:{name}:pull")
    assert client.request("GET", f"/v2/{name}/blobs/{layer}", token=pull).status_code == 200
    assert client.request("GET", f"/v2/{name}/manifests/v1", token=pull).status_code == 200
    registry_tasks.collect_garbage.delay()
    scanning_tasks.scan_image.delay(Manifest.objects.get(digest=digest).pk)
    with CaptureQueriesContext(connection) as queries:
        after = _families(metrics.exposition())
    # a scrape's reads are bounded: uploads (1), the spool's cursors (none: no spool file here), scans (1)
    assert len(queries) <= 4, [query["sql"] for query in queries]

    def grew(family, **labels):
        return _value(after[family], **labels) - (_value(before[family], **labels) if family in before else 0)

    assert grew("berth_http_requests", route="v2/<name>/manifests/<reference>", method="PUT", status="201") == 1
    assert grew("berth_http_requests", route="v2/<name>/manifests/<reference>", method="GET", status="200") == 1
    assert grew("berth_http_requests", route="v2/<name>/blobs/<digest>", method="GET", status="200") == 1
    assert grew("berth_http_request_body_bytes", route_class="manifest", method="PUT") > 100
    # the blob GET: the FileResponse's declared length, 1 KiB and the seed's byte
    assert grew("berth_http_response_body_bytes", route_class="blob", method="GET") == 1025
    assert grew("berth_http_request_body_bytes", route_class="upload", method="POST") >= 1025
    assert grew("berth_celery_tasks", task="apps.registry.tasks.collect_garbage", outcome="success") == 1
    assert grew("berth_gc_runs", kind="collect") == 1
    histogram = after["berth_http_request_duration_seconds"]
    assert any(
        sample.name.endswith("_count") and sample.labels["route"] == "v2/<name>/manifests/<reference>"
        for sample in histogram.samples
    )
    # no raw path (a repository name, a digest) ever becomes a label
    assert not [
        s for f in after.values() for s in f.samples if any(digest in v or name in v for v in s.labels.values())
    ]
    up = {sample.labels["source"]: sample.value for sample in after["berth_metrics_source_up"].samples}
    assert up == {"uploads": 1, "queue": 1, "audit_spool": 1, "scans": 1}
    in_flight = {sample.labels["status"]: sample.value for sample in after["berth_image_scans_in_flight"].samples}
    assert in_flight == {"PENDING": 0, "IN_PROGRESS": 0}
    assert (
        sum(s.value for s in after["berth_image_scans_finished"].samples if s.name.endswith("_total"))
        - sum(
            s.value
            for s in before.get("berth_image_scans_finished", after["berth_image_scans_in_flight"]).samples
            if s.name.endswith("_total")
        )
        == 1
    )


def test_readable_routes_and_classes():
    assert metrics.readable_route(r"^v2/(?P<name>[^?#]+?)/blobs/uploads/?$") == "v2/<name>/blobs/uploads/"
    assert metrics.readable_route(r"^v2/(?P<name>[^?#]+?)/blobs/(?P<digest>[^/]+)$") == "v2/<name>/blobs/<digest>"
    assert metrics.readable_route("api/v1/repositories/<str:name>") == "api/v1/repositories/<str:name>"
    assert metrics.route_class("v2/<name>/blobs/uploads/<upload_id>", "PATCH") == "upload"
    assert metrics.route_class("/", "POST") == "aws"
    instruments.count_gc_report("reconcile", {"blobs": 0, "orphans": 2})


@pytest.mark.django_db
def test_spool_lag_is_the_oldest_waiting_event(tmp_path, settings):
    from datetime import timedelta

    from django.utils import timezone

    from apps.audit import spool
    from apps.audit.events import Actor, EventDraft

    old = timezone.now() - timedelta(seconds=90)
    draft = EventDraft(
        event_name="BatchGetImage",
        event_source="ecr",
        actor=Actor.system("test"),
        source_ip="192.0.2.1",
        user_agent="test",
        request_id="r1",
        read_only=True,
        event_time=old,
    )
    (tmp_path / "a.jsonl").write_bytes(spool.encode(draft) * 2)
    files, waiting, oldest = metrics.spool_backlog(tmp_path)
    assert (files, oldest) == (1, old) and waiting == (tmp_path / "a.jsonl").stat().st_size


def test_json_log_lines_carry_the_request_id_and_the_traceback():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    logger = logging.getLogger("berth.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    token = logs.request_id.set("abc123")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("it failed: %s", "why")
    finally:
        logs.request_id.reset(token)
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "it failed: why" and entry["level"] == "ERROR" and entry["logger"] == "berth.test.json"
    assert entry["request_id"] == "abc123"
    assert (
        entry["exception"].startswith("Traceback (most recent call last):") and "ValueError: boom" in entry["exception"]
    )


@pytest.mark.django_db
def test_the_separate_listener_serves_metrics_and_probes(settings, tmp_path):
    import urllib.request

    from registry_project.ops import start_listener

    settings.BERTH_METRICS_TOKEN = ""
    settings.BERTH_BLOB_DIR = tmp_path / "blobs"
    settings.BERTH_AUDIT_SPOOL_DIR = tmp_path / "spool"
    settings.REDIS_URL = ""
    server = start_listener("127.0.0.1:0")
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
            names = {family.name for family in text_string_to_metric_families(response.read().decode())}
        assert {"berth_http_requests", "berth_image_scans_in_flight"} <= names
        with urllib.request.urlopen(base + "/readyz", timeout=10) as response:
            assert json.loads(response.read())["status"] == "ready"
    finally:
        server.shutdown()
        server.server_close()

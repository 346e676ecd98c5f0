"""The batching recorder in a real `berth serve`: events wait in the worker's buffer,
a full batch is written at once, and what is still buffered when the server stops
gracefully is written by gunicorn's worker_exit hook, not lost."""
from __future__ import annotations

import json

import pytest
import requests

from tests.e2e.conftest import BerthServer

pytestmark = pytest.mark.e2e

BATCH = 5


def recorded_lookups(server: BerthServer) -> int:
    result = server.cli(
        "shell", "-c",
        "from apps.audit.models import Event; print(Event.objects.filter(event_name='LookupEvents').count())",
    )
    return int(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def buffering_server(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = BerthServer(data_dir, "")  # SQLite: a server of its own, whatever the other tests use
    server.env.update({
        "BERTH_AUDIT_SYNCHRONOUS": "false",
        "BERTH_AUDIT_FLUSH_SECONDS": "3600",  # only a full batch or the shutdown writes
        "BERTH_AUDIT_FLUSH_EVENTS": str(BATCH),
        "BERTH_WEB_WORKERS": "1",
    })
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_buffered_events_are_written_in_batches_and_at_shutdown(buffering_server):
    server = buffering_server
    account = server.create_account("Buffer Co")
    key = requests.post(
        f"{server.url}/api/v1/auth/access-keys",
        json={"username": account.username, "password": account.password},
        timeout=30,
    ).json()
    session = requests.Session()
    session.auth = (key["accessKeyId"], key["secretAccessKey"])

    def look_up() -> None:
        response = session.get(f"{server.url}/api/v1/audit/events", timeout=30)
        assert response.status_code == 200, response.text
        assert response.headers["X-Request-Id"]

    look_up()
    assert recorded_lookups(server) == 0  # waiting in the worker's buffer

    # BATCH events waiting (these lookups, and the key's creation if it was not written
    # with its change) wake the flusher, which writes them on its own
    for _ in range(BATCH + 1):
        look_up()
    written = 0
    for _ in range(50):
        written = recorded_lookups(server)
        if written:
            break
    assert BATCH - 1 <= written <= BATCH

    server.stop()

    assert recorded_lookups(server) == BATCH + 2
    verified = server.cli("verify_audit_chain")
    assert "audit chain intact" in verified.stdout
    request_ids = json.loads(server.cli(
        "shell", "-c",
        "import json; from apps.audit.models import Event; "
        "print(json.dumps(list(Event.objects.filter(event_name='LookupEvents').values_list('request_id', flat=True))))",
    ).stdout.strip().splitlines()[-1])
    assert len(set(request_ids)) == BATCH + 2  # one event per request, each with its own id

"""The spool in a real `berth serve`: web workers spool their events, the audit
writer process writes them to the trail, and on a graceful stop it runs once more
after the web server has stopped, so nothing spooled is left behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import BerthServer, server_tracebacks_fail_the_test  # noqa: F401  (a fixture)
from tests.live_database import sqlite_database

pytestmark = pytest.mark.e2e

LOOKUPS = 7


def audit_writer_nice(server: BerthServer) -> int:
    """The nice value of the server's audit writer process (found in its session)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            command = Path(entry.path, "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == server.proc.pid and b"audit_writer" in command:
            return int(fields[16])
    raise AssertionError("no audit writer process in the server's session")


def recorded_lookups(server: BerthServer) -> int:
    result = server.cli(
        "shell",
        "-c",
        "from apps.audit.models import Event; print(Event.objects.filter(event_name='LookupEvents').count())",
    )
    return int(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def idle_writer_server(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # SQLite: a server of its own, whatever the other tests use
    server = BerthServer(data_dir, sqlite_database(data_dir))
    server.env.update(
        {
            "BERTH_AUDIT_SYNCHRONOUS": "false",
            "BERTH_STOP_GRACE_SECONDS": "20",  # the stop is what is tested: Berth's default grace
            "BERTH_AUDIT_FLUSH_SECONDS": "3600",  # the audit writer runs at start, then only at the stop
            "BERTH_WEB_WORKERS": "2",
        }
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_spooled_events_are_written_when_the_server_stops(idle_writer_server):
    server = idle_writer_server
    account = server.create_account("Spool Co")
    key = requests.post(
        f"{server.url}/api/v1/auth/access-keys",
        json={"username": account.username, "password": account.password},
        timeout=30,
    ).json()
    session = requests.Session()
    session.auth = (key["accessKeyId"], key["secretAccessKey"])
    for _ in range(LOOKUPS):
        response = session.get(f"{server.url}/api/v1/audit/events", timeout=30)
        assert response.status_code == 200, response.text
        assert response.headers["X-Request-Id"]

    assert recorded_lookups(server) == 0  # spooled: the audit writer has not run since
    assert list((server.data_dir / "audit-spool").glob("*.jsonl"))
    assert audit_writer_nice(server) == 10  # pulls go first while the CPU is busy

    server.stop()

    assert recorded_lookups(server) == LOOKUPS
    assert not list((server.data_dir / "audit-spool").glob("*.jsonl"))  # read, and their writers gone
    verified = server.cli("verify_audit_chain")
    assert "audit chain intact" in verified.stdout
    request_ids = json.loads(
        server.cli(
            "shell",
            "-c",
            "import json; from apps.audit.models import Event; "
            "print(json.dumps(list(Event.objects.filter(event_name='LookupEvents').values_list('request_id', flat=True))))",
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert len(set(request_ids)) == LOOKUPS  # one event per request, each with its own id

"""Hosts that share one database, each with a spool directory of its own (two
`berth serve` on one PostgreSQL): each ingester reads, moves and forgets only its
own directory's cursors, so every event is written once and nothing is refused
as a duplicate, whatever the hosts' names (here: the same one)."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.db import connection

from apps.audit import chain, spool
from apps.audit.models import Event, SpoolCursor
from apps.audit.recorder import Recorder
from tests.live_database import sqlite_database

from .conftest import make_draft

ROUNDS = 6
EVENTS_PER_ROUND = 40


class WriterFile:
    """A spool file as a web process writes it: named after this host, under its
    writer's shared lock until closed."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = (
            directory / f"{socket.gethostname()}-{os.getpid()}-{time.time_ns():020d}-{os.urandom(4).hex()}.jsonl"
        )
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_SH)

    def append(self, drafts) -> None:
        os.write(self.fd, b"".join(spool.encode(draft) for draft in drafts))

    def close(self) -> None:
        os.close(self.fd)


@pytest.mark.django_db
def test_two_ingesters_on_one_database_keep_to_their_own_cursors(tmp_path, caplog):
    directories = {"a": tmp_path / "a", "b": tmp_path / "b"}
    ingesters = {host: spool.Ingester(Recorder()._write, directory=path) for host, path in directories.items()}
    files = {host: WriterFile(path) for host, path in directories.items()}
    written = {"a": 0, "b": 0}
    with caplog.at_level(logging.WARNING, logger="apps.audit"):
        for round_number in range(ROUNDS):
            for host in ("a", "b"):
                files[host].append(
                    make_draft(request_parameters={"host": host, "n": round_number * EVENTS_PER_ROUND + n})
                    for n in range(EVENTS_PER_ROUND)
                )
                if round_number % 2:  # the writer moves to a new file; the old one goes once read
                    files[host].close()
                    files[host] = WriterFile(directories[host])
            # a and b take turns in either order; each pass must leave the other's cursors alone
            for host in ("a", "b") if round_number % 3 else ("b", "a"):
                other = "b" if host == "a" else "a"
                cursors_of_other = (
                    set(
                        SpoolCursor.objects.filter(owner=spool.spool_id(directories[other])).values_list(
                            "name", "offset"
                        )
                    )
                    if directories[other].is_dir()
                    else set()
                )
                written[host] += ingesters[host].run_once()
                assert (
                    set(
                        SpoolCursor.objects.filter(owner=spool.spool_id(directories[other])).values_list(
                            "name", "offset"
                        )
                    )
                    == cursors_of_other
                )
        for host in ("a", "b"):
            files[host].close()
            written[host] += ingesters[host].run_once()

    assert written == {"a": ROUNDS * EVENTS_PER_ROUND, "b": ROUNDS * EVENTS_PER_ROUND}
    assert ingesters["a"].dropped == ingesters["b"].dropped == 0
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING], caplog.text
    for host in ("a", "b"):
        numbers = sorted(
            Event.objects.filter(request_parameters__host=host).values_list("request_parameters__n", flat=True)
        )
        assert numbers == list(range(ROUNDS * EVENTS_PER_ROUND))
    assert not SpoolCursor.objects.exists()  # every file read to its end, its writer gone, and removed
    assert spool.spool_id(directories["a"]) != spool.spool_id(directories["b"])
    assert chain.verify().intact


@pytest.mark.django_db
def test_a_cursor_from_before_owners_is_taken_over_by_the_directory_holding_its_file(tmp_path):
    directory = tmp_path / "spool"
    file = WriterFile(directory)
    file.append([make_draft(request_parameters={"n": n}) for n in range(3)])
    ingested = (directory / file.path.name).stat().st_size  # an earlier version's audit writer read this far
    file.append([make_draft(request_parameters={"n": n}) for n in range(3, 5)])
    SpoolCursor.objects.create(owner="", name=file.path.name, offset=ingested)
    ingester = spool.Ingester(Recorder()._write, directory=directory)

    assert ingester.run_once() == 2

    assert sorted(Event.objects.values_list("request_parameters__n", flat=True)) == [3, 4]
    [cursor] = SpoolCursor.objects.all()
    assert (cursor.owner, cursor.name) == (spool.spool_id(directory), file.path.name)
    file.close()


def test_a_spool_directory_keeps_one_id(tmp_path):
    first = spool.spool_id(tmp_path)
    assert spool.spool_id(tmp_path) == first and len(first) == 32
    assert (tmp_path / spool.ID_NAME).stat().st_mode & 0o777 == 0o600
    assert [path.name for path in tmp_path.iterdir()] == [spool.ID_NAME]


# -- two hosts at once ---------------------------------------------------------------------

HOST_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    import django
    django.setup()
    from apps.audit.recorder import recorder
    from apps.audit.tests.conftest import make_draft
    host, rounds, per_round = os.environ["HOST"], int(os.environ["ROUNDS"]), int(os.environ["PER_ROUND"])
    deadline = time.monotonic() + 60
    while not os.path.exists(os.environ["START"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    for round_number in range(rounds):
        for n in range(per_round):
            recorder.submit(make_draft(request_parameters={"host": host, "n": round_number * per_round + n}))
        recorder.flush()
        if round_number % 3 == 2:
            recorder.spool.close()  # the next event opens a new file; this one goes once read
    recorder.spool.close()
    recorder.flush()
    print(json.dumps({"dropped": recorder.dropped}))
    """
)
REPORT_SCRIPT = textwrap.dedent(
    """
    import json
    import django
    django.setup()
    from apps.audit.models import Event, SpoolCursor
    events = list(Event.objects.values_list("request_parameters__host", "request_parameters__n"))
    print(json.dumps({"events": events, "cursors": SpoolCursor.objects.count()}))
    """
)
CONCURRENT_ROUNDS = 12
CONCURRENT_EVENTS_PER_ROUND = 100


@pytest.fixture
def shared_database(request, tmp_path) -> dict[str, str]:
    """The environment of processes that share one database: on PostgreSQL the
    test's own (committed, so a transactional test), on SQLite a migrated file."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "registry_project.settings",
        "BERTH_DATA_DIR": str(tmp_path / "data"),
        "BERTH_AUDIT_SYNCHRONOUS": "false",
        "BERTH_AUDIT_WRITER": "process",
        "BERTH_AUDIT_SPOOL_WRITE_SECONDS": "3600",
    }
    if connection.vendor == "postgresql":
        request.getfixturevalue("transactional_db")
        database = connection.settings_dict
        environment["DATABASE_URL"] = (
            f"postgresql://{database['USER']}:{database['PASSWORD'] or ''}@"
            f"{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
        )
    else:
        environment.pop("DATABASE_URL", None)
        sqlite_database(tmp_path / "data")
    return environment


def test_two_hosts_ingest_concurrently_into_one_database(shared_database, tmp_path):
    start = tmp_path / "start"
    hosts = {
        host: subprocess.Popen(
            [sys.executable, "-c", HOST_SCRIPT],
            env={
                **shared_database,
                "HOST": host,
                "ROUNDS": str(CONCURRENT_ROUNDS),
                "PER_ROUND": str(CONCURRENT_EVENTS_PER_ROUND),
                "START": str(start),
                "BERTH_AUDIT_SPOOL_DIR": str(tmp_path / f"spool-{host}"),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for host in ("a", "b")
    }
    start.touch()
    try:
        outputs = {host: process.communicate(timeout=300) for host, process in hosts.items()}
    finally:
        for process in hosts.values():
            if process.poll() is None:
                process.kill()
                process.wait()

    for host, (stdout, stderr) in outputs.items():
        assert hosts[host].returncode == 0, stderr
        assert "Traceback" not in stderr and "ERROR" not in stderr, stderr
        assert json.loads(stdout.splitlines()[-1]) == {"dropped": 0}
    report = subprocess.run(
        [sys.executable, "-c", REPORT_SCRIPT],
        env=shared_database,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    stored = json.loads(report.stdout.splitlines()[-1])
    expected = CONCURRENT_ROUNDS * CONCURRENT_EVENTS_PER_ROUND
    for host in ("a", "b"):
        assert sorted(n for stored_host, n in stored["events"] if stored_host == host) == list(range(expected))
    assert len(stored["events"]) == 2 * expected
    assert stored["cursors"] == 0
    verified = subprocess.run(
        [sys.executable, "-m", "django", "verify_audit_chain"],
        env=shared_database,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0 and f"{2 * expected} events" in verified.stdout, verified.stdout + verified.stderr

"""A process killed after a write commits and before its events are delivered
loses none of them: they wait in the outbox, and the next sweep delivers them.

Run against a database and data directory of its own, in real processes: the test's
own transaction never commits, so nothing here could show a commit followed by a death."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.live_database import sqlite_database

REPOSITORY_ROOT = Path(__file__).resolve().parents[3]

# The write, in a process that dies as soon as it commits: on_commit callbacks run in
# the order registered, so this one runs before the delivery the write registers.
WRITE_THEN_DIE = textwrap.dedent("""
    import os

    import django

    django.setup()
    from django.db import transaction

    from apps.accounts import services as account_services
    from apps.audit.events import Actor
    from apps.repositories import services as repository_services

    account = account_services.create_account(name="durable", username="durable", password="x" * 16, validate=False)
    with transaction.atomic():
        transaction.on_commit(lambda: os._exit(9))
        repository_services.create_repository(
            account=account, name="kept", visibility="public", actor=Actor.system("test")
        )
    raise SystemExit("still alive after the commit")
""")


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=REPOSITORY_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.database_independent
def test_events_of_a_process_killed_after_its_commit_are_delivered_by_the_sweep(tmp_path):
    env = {
        **os.environ,
        "BERTH_DATA_DIR": str(tmp_path / "data"),
        "DJANGO_SETTINGS_MODULE": "tests.live_server_settings",
        "PYTHONPATH": str(REPOSITORY_ROOT),
    }
    for name in ("DATABASE_URL", "BERTH_TEST_DATABASE_URL"):
        env.pop(name, None)  # SQLite in the data directory
    sqlite_database(tmp_path / "data")

    died = run(["-c", WRITE_THEN_DIE], env)
    assert died.returncode == 9, died.stdout + died.stderr

    database = sqlite3.connect(tmp_path / "data" / "berth.sqlite3")
    try:
        # Committed: the repository and its event; not delivered: no gallery row.
        assert database.execute("SELECT name FROM repositories_repository").fetchall() == [("kept",)]
        assert database.execute("SELECT name, delivered_to FROM events_domainevent").fetchall() == [
            ("repository.created", "[]")
        ]
        assert database.execute("SELECT count(*) FROM gallery_galleryentry").fetchone() == (0,)

        swept = run(["manage.py", "deliver_events"], env)
        assert swept.returncode == 0, swept.stderr
        assert swept.stdout.strip() == "delivered 1 domain events"

        assert database.execute("SELECT name FROM gallery_galleryentry").fetchall() == [("kept",)]
        assert database.execute("SELECT count(*) FROM events_domainevent").fetchone() == (0,)
    finally:
        database.close()

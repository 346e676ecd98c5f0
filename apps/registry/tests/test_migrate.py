"""Hosts that share a database and start together each run migrate (`berth serve`
does at start): one at a time, so every one of them starts."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.db import connection
from psycopg import sql

HOSTS = 3


@pytest.fixture
def empty_database(tmp_path) -> dict[str, str]:
    """The environment of the hosts, on a database that has no tables yet."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "registry_project.settings",
        "BERTH_DATA_DIR": str(tmp_path / "data"),
    }
    if connection.vendor != "postgresql":
        environment.pop("DATABASE_URL", None)  # SQLite in the data directory
        yield environment
        return
    url = urlsplit(os.environ["DATABASE_URL"])
    name = f"berth_migrate_{uuid.uuid4().hex[:12]}"
    admin = urlunsplit(("postgresql", *url[1:]))
    with psycopg.connect(admin, autocommit=True) as admin_connection:
        admin_connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    environment["DATABASE_URL"] = urlunsplit((url.scheme, url.netloc, f"/{name}", url.query, url.fragment))
    try:
        yield environment
    finally:
        with psycopg.connect(admin, autocommit=True) as admin_connection:
            admin_connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_hosts_that_migrate_one_database_at_once_all_succeed(empty_database):
    hosts = [
        subprocess.Popen(
            [sys.executable, "-m", "django", "migrate", "-v0"],
            env=empty_database,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(HOSTS)
    ]
    try:
        errors = [host.communicate(timeout=300)[1] for host in hosts]
    finally:
        for host in hosts:
            if host.poll() is None:
                host.kill()
                host.wait()

    for host, stderr in zip(hosts, errors):
        assert host.returncode == 0, stderr
    shown = subprocess.run(
        [sys.executable, "-m", "django", "showmigrations", "--plan"],
        env=empty_database,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "[ ]" not in shown.stdout and "[X]" in shown.stdout

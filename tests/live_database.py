"""Databases for the live servers the tests start (`berth serve` and its kin).

Each live server gets a database of its own, but none migrates one from nothing:
each pytest process migrates one template per engine the first time a server needs
it, and every server then starts on a copy (PostgreSQL: ``CREATE DATABASE ...
TEMPLATE``; SQLite: the backup API into ``<data dir>/berth.sqlite3``). Migrating
from nothing added 1-2 s to a server's ~6 s start on an idle 2-core machine (more
when the machine is busy, as it is with both passes running), a copy ~0.3 s;
`berth serve` still runs migrate, which finds nothing to do. Tests of migrating
itself (apps/registry/tests/test_migrate.py) make their own empty databases.

Every place that makes a live server's database goes through here, so that the
copy, its file mode and its clean-up are done one way."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
# registry_project/settings.py: an empty DATABASE_URL means this file in BERTH_DATA_DIR.
SQLITE_NAME = "berth.sqlite3"
MIGRATE_TIMEOUT = 600

_sqlite_template: Path | None = None
_postgres_templates: dict[str, str] = {}  # admin URL -> template database name


def postgres_url() -> str | None:
    """The PostgreSQL server of this pass (BERTH_TEST_DATABASE_URL or DATABASE_URL), if any."""
    for var in ("BERTH_TEST_DATABASE_URL", "DATABASE_URL"):
        url = os.environ.get(var, "")
        if url.split(":", 1)[0] in ("postgres", "postgresql", "pgsql", "postgis"):
            return url
    return None


def with_dbname(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _psycopg_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", *parts[1:]))


def _migrate(database_url: str, data_dir: Path) -> None:
    """Migrate as the live servers' own code and settings would (the checkout's,
    whatever `berth` is installed)."""
    env = {key: value for key, value in os.environ.items() if key not in ("BERTH_TEST_DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "BERTH_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "tests.live_server_settings",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--no-input", "-v0"],
        env=env,
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrating the live servers' template failed:\n{result.stdout}\n{result.stderr}")


# --------------------------------------------------------------------------- SQLite


def _template_data_dir() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="berth-live-template-"))
    atexit.register(shutil.rmtree, directory, True)
    return directory


def _sqlite_template_file() -> Path:
    global _sqlite_template
    if _sqlite_template is None:
        directory = _template_data_dir()
        _migrate("", directory)
        _sqlite_template = directory / SQLITE_NAME
    return _sqlite_template


def sqlite_database(data_dir: Path) -> str:
    """Place a migrated SQLite database in ``data_dir`` and return the DATABASE_URL
    that makes a server use it: "" (Berth's embedded default)."""
    target = data_dir / SQLITE_NAME
    if target.exists():
        raise FileExistsError(f"{target}: a live server's database must be its own")
    data_dir.mkdir(parents=True, exist_ok=True)
    # the mode Berth gives its data files (tests/e2e/test_data_dir_modes.py checks them)
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    # The backup API, not a file copy: it copies a consistent database, whatever
    # journal (WAL) the template was left with.
    source = sqlite3.connect(_sqlite_template_file())
    try:
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()
    return ""


# --------------------------------------------------------------------------- PostgreSQL


def _postgres_execute(admin_url: str, statement) -> None:
    import psycopg  # only on the PostgreSQL pass

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(statement)


def _drop_postgres(admin_url: str, name: str) -> None:
    from psycopg import sql

    try:
        _postgres_execute(admin_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    except Exception as exc:  # clean-up must not mask the test results
        print(f"warning: could not drop test database {name}: {exc}", file=sys.stderr)


def _postgres_template(base_url: str) -> str:
    from psycopg import sql

    admin_url = _psycopg_url(base_url)
    if admin_url not in _postgres_templates:
        name = f"berth_template_{os.getpid()}_{secrets.token_hex(4)}"
        ident = sql.Identifier(name)
        _postgres_execute(admin_url, sql.SQL("CREATE DATABASE {}").format(ident))
        # Registered before migrating: a failed or interrupted session drops it too.
        atexit.register(_drop_postgres, admin_url, name)
        _migrate(with_dbname(base_url, name), _template_data_dir())
        # A copy fails while anyone is connected to its template: nobody may connect.
        _postgres_execute(admin_url, sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
        _postgres_templates[admin_url] = name
    return _postgres_templates[admin_url]


class PostgresDatabase:
    """A migrated database of one live server's own on the pass's PostgreSQL server
    (or of several servers that share one, as the scaled-out setup does)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.admin_url = _psycopg_url(base_url)
        # One database per server: the session's servers (tests/e2e, tests/cli and
        # tests/browser each start one) must never drop one another's.
        self.name = f"berth_e2e_{os.getpid()}_{secrets.token_hex(4)}"
        self.url = with_dbname(base_url, self.name)

    def create(self) -> None:
        from psycopg import sql

        template = _postgres_template(self.base_url)
        self.drop()
        _postgres_execute(
            self.admin_url,
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(self.name), sql.Identifier(template)),
        )

    def drop(self) -> None:
        _drop_postgres(self.admin_url, self.name)


# --------------------------------------------------------------------------- either


@contextmanager
def server_database(data_dir: Path, *, sqlite: bool = False) -> Iterator[str]:
    """The DATABASE_URL for a live server whose data directory is ``data_dir``: a
    migrated database of its own on the pass's PostgreSQL (dropped on exit), or with
    ``sqlite`` or no PostgreSQL, "" with a migrated SQLite file in ``data_dir``."""
    base_url = None if sqlite else postgres_url()
    if base_url is None:
        yield sqlite_database(data_dir)
        return
    database = PostgresDatabase(base_url)
    database.create()
    try:
        yield database.url
    finally:
        database.drop()

"""A pytest plugin (loaded with `-p` from pyproject.toml) that prepares the
environment before pytest-django imports the settings."""

import os
import tempfile

# Every test run gets its own data directory (blobs, uploads, signing key, cache).
os.environ.setdefault("BERTH_DATA_DIR", tempfile.mkdtemp(prefix="berth-test-"))
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
# Audit events are written in the request, inside the test's transaction, instead of
# by a background thread on a connection of its own (which would outlive the test).
os.environ.setdefault("BERTH_AUDIT_SYNCHRONOUS", "true")
# A management API write whose service records no audit event fails the test (apps.api.views).
os.environ.setdefault("BERTH_AUDIT_STRICT", "true")
# No pull limits for the suite (unit tests and, through the environment they inherit,
# the live servers pull hundreds of times from 127.0.0.1): the tests of the limits set
# their own (apps/registry/tests/test_pull_limits.py, tests/e2e/test_pull_limits.py).
os.environ.setdefault("BERTH_PULL_RATE_ANONYMOUS", "0")
os.environ.setdefault("BERTH_PULL_RATE_AUTHENTICATED", "0")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "database_independent(pass_='sqlite'): what the test checks does not depend on the database (process "
        "handling, the client's own side); `scripts/test`, which runs the suite on PostgreSQL and on SQLite, "
        "runs it in one pass only: SQLite's (servers of its own, or none), or with pass_='postgres' "
        "PostgreSQL's when that pass runs too",
    )


def pytest_collection_modifyitems(config, items):
    import pytest

    # scripts/test runs the suite twice, on PostgreSQL (DATABASE_URL set) and on SQLite
    # (it sets BERTH_TEST_POSTGRES_PASS in the SQLite pass when the other runs too):
    # a slow test whose outcome no database changes runs in one of them only.
    on_postgres = bool(os.environ.get("DATABASE_URL"))
    postgres_pass_too = bool(os.environ.get("BERTH_TEST_POSTGRES_PASS"))
    for item in items:
        mark = item.get_closest_marker("database_independent")
        if mark is None:
            continue
        home = mark.kwargs.get("pass_", "sqlite")
        if home == "sqlite" and on_postgres:
            item.add_marker(pytest.mark.skip(reason="database independent: runs in the SQLite pass"))
        elif home == "postgres" and not on_postgres and postgres_pass_too:
            item.add_marker(pytest.mark.skip(reason="database independent: runs in the PostgreSQL pass"))

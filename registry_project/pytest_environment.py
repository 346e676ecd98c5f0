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


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "database_independent: what the test checks does not depend on the database (it starts servers of "
        "its own on SQLite, or none); `scripts/test` runs it in its SQLite pass only",
    )


def pytest_collection_modifyitems(config, items):
    import pytest

    # scripts/test runs the suite twice, on PostgreSQL (DATABASE_URL set) and on SQLite;
    # a slow test whose outcome no database changes runs in the second pass only.
    if not os.environ.get("DATABASE_URL"):
        return
    skip = pytest.mark.skip(reason="database independent: runs in the SQLite pass (no DATABASE_URL)")
    for item in items:
        if item.get_closest_marker("database_independent"):
            item.add_marker(skip)

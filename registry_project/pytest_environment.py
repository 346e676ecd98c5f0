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

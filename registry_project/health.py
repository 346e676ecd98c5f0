"""Probes for load balancers and Kubernetes.

``/healthz``: the process answers (nothing else is looked at: a liveness probe that
failed on a database outage would have every web process restarted for nothing).

``/readyz``: the process can serve: the database answers a ``SELECT 1``, Redis a
PING (when REDIS_URL is set), the blob store is reachable (the filesystem store's
directory takes a file; S3: HeadBucket), and the audit spool directory takes a
file. The checks run side by side in a small pool of threads, each within
BERTH_READYZ_TIMEOUT_SECONDS: one that hangs (a dead host's TCP connect, a
stuck mount) is reported as timed out instead of holding the probe. 200 with
``{"status": "ready", "checks": {name: "ok"}}``, 503 with ``"not ready"`` and each
failed check's reason."""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.db import connections

from apps.registry.storage import get_blob_store

# Probes come every few seconds; a check stuck past its timeout keeps its thread,
# so a few spare ones let the next probes answer (timed out) meanwhile.
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="berth-readyz")


def check_database() -> None:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # the pool's threads keep no connection between probes: nothing is left
        # open for the database to count, or to find broken next time
        connection.close()


@lru_cache(maxsize=4)
def _redis(url: str, timeout: float):
    import redis

    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def check_redis() -> None:
    _redis(settings.REDIS_URL, settings.BERTH_READYZ_TIMEOUT_SECONDS).ping()


def _writable(directory: Path) -> None:
    """A file can be made (and removed) in ``directory``, created if missing."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".readyz-"):
        pass


def check_blob_store() -> None:
    if settings.BLOB_STORAGE == "s3":
        store = get_blob_store()
        store._client.head_bucket(Bucket=store.storage.bucket_name)
    else:
        _writable(Path(settings.BERTH_BLOB_DIR))


def check_audit_spool() -> None:
    _writable(Path(settings.BERTH_AUDIT_SPOOL_DIR))


def checks() -> dict:
    found = {"database": check_database}
    if settings.REDIS_URL:
        found["redis"] = check_redis
    found["blob_store"] = check_blob_store
    found["audit_spool"] = check_audit_spool
    return found


def readiness() -> tuple[bool, dict[str, str]]:
    """(all passed, each check's "ok" or why it failed)."""
    timeout = settings.BERTH_READYZ_TIMEOUT_SECONDS
    futures = {name: _POOL.submit(check) for name, check in checks().items()}
    deadline = time.monotonic() + timeout
    results = {}
    for name, future in futures.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            results[name] = f"timed out after {timeout:g}s"
        except Exception as error:
            results[name] = f"{type(error).__name__}: {str(error).strip()[:300]}"
        else:
            results[name] = "ok"
    return all(result == "ok" for result in results.values()), results


def liveness() -> dict:
    return {"status": "alive", "pid": os.getpid()}

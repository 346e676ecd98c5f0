"""Running out of space, as each store says it: the filesystem of the blob store
and the upload area (ENOSPC, or EDQUOT past a quota), an S3-compatible store
(MinIO's XMinioStorageFull, Ceph's QuotaExceeded; Amazon S3 has no such error)
and the database (SQLite's SQLITE_FULL, PostgreSQL's disk_full)."""

from __future__ import annotations

import errno

from botocore.exceptions import ClientError

from ..exceptions import StorageFull

NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
SQLITE_FULL = 13
POSTGRES_DISK_FULL = "53100"
S3_NO_SPACE_CODES = frozenset({"XMinioStorageFull", "StorageFull", "QuotaExceeded"})


def _says_no_space(exc: BaseException) -> bool:
    if isinstance(exc, StorageFull):
        return True
    if isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS:
        return True
    # sqlite3.Error carries the (extended) result code; the primary code is its low byte.
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF == SQLITE_FULL:
        return True
    if getattr(exc, "sqlstate", None) == POSTGRES_DISK_FULL:  # psycopg's errors
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error.get("Code") in S3_NO_SPACE_CODES or status == 507
    return False


def out_of_space(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it was raised from or while handling, says a
    store is full. Django's database errors and boto3's upload errors wrap the
    driver's."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _says_no_space(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False

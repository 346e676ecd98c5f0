"""Berth's data files (database, blobs, uploads, keys, spool, cache, broker) are
its own user's alone: 0600 files in 0700 directories.

Settings apply `PRIVATE_UMASK` to the process when they are imported. Every Berth
process imports them before it writes anything (`berth serve` and the processes it
starts, which inherit the mask; gunicorn workers through the WSGI module; Celery
through `config_from_object`; every `berth` server command), so every writer, ours
or a library's (SQLite and its WAL, Celery's filesystem broker and beat schedule,
the file cache), creates private files without having to say so. Nothing needs
the files readable by another user: static files too are served by the process
(whitenoise), not by a web server of another user."""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
PRIVATE_DIRECTORY_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def tighten(path: Path) -> None:
    """Take group and other permissions off ``path`` if this user owns it (a data
    directory made looser by an older Berth, a restore or a hand). Shutting the top
    directory shuts everything below it."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return
    if status.st_uid == os.geteuid() and status.st_mode & 0o077:
        os.chmod(path, stat.S_IMODE(status.st_mode) & ~0o077)


def keep_private(directories: list[Path]) -> None:
    """Make this process create private files, and tighten Berth's existing directories."""
    os.umask(PRIVATE_UMASK)
    for directory in directories:
        tighten(directory)

"""Secrets generated once into the data directory for the embedded install."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from registry_project.datadir import PRIVATE_DIRECTORY_MODE, PRIVATE_FILE_MODE


def data_dir_secret(data_dir: Path, name: str) -> str:
    """Return the secret stored in ``data_dir/name``, creating it atomically on first use
    (the file 0600, a new data directory 0700: settings read it before they set the umask)."""
    data_dir.mkdir(mode=PRIVATE_DIRECTORY_MODE, parents=True, exist_ok=True)
    path = data_dir / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    tmp = data_dir / f".{name}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    try:
        # link() fails if another process won the race; its secret is then the one.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()

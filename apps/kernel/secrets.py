"""Secrets generated once into the data directory for the embedded install."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from apps.kernel.datadir import PRIVATE_DIRECTORY_MODE, PRIVATE_FILE_MODE


def read_or_create(path: Path, make) -> str:
    """The value stored in ``path``, written there (0600) from ``make()`` by the first
    caller: with link(), so that callers racing to create it all read the one that won."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(make())
    try:
        os.link(tmp, path)  # fails if another process won the race; its value is then the one
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def fernet_key() -> str:
    """A key for apps.kernel.sealing: 32 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def data_dir_secret(data_dir: Path, name: str, make=lambda: secrets.token_urlsafe(48)) -> str:
    """Return the secret stored in ``data_dir/name``, creating it atomically on first use
    (the file 0600, a new data directory 0700: settings read it before they set the umask)."""
    data_dir.mkdir(mode=PRIVATE_DIRECTORY_MODE, parents=True, exist_ok=True)
    return read_or_create(data_dir / name, make)

"""Secrets generated once into the data directory for the embedded install."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def data_dir_secret(data_dir: Path, name: str) -> str:
    """Return the secret stored in ``data_dir/name``, creating it atomically on first use."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    tmp = data_dir / f".{name}.{os.getpid()}"
    tmp.write_text(secrets.token_urlsafe(48))
    os.chmod(tmp, 0o600)
    try:
        # link() fails if another process won the race; its secret is then the one.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()

"""Private keys the registry signs with, kept in the data directory.

The first process to need a key generates it; every other process, now or after
a restart, loads that same file."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings

from apps.kernel.datadir import PRIVATE_DIRECTORY_MODE, PRIVATE_FILE_MODE


def load_or_create_pem(path: Path, generate: Callable[[], object]) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    # A directory made here is as private as the key (an existing one is the operator's).
    path.parent.mkdir(mode=PRIVATE_DIRECTORY_MODE, parents=True, exist_ok=True)
    pem = generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    try:
        os.link(tmp, path)  # the first process to get here decides the key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()


@lru_cache(maxsize=1)
def token_signing_key():
    """RSA key of the token service (RS256)."""
    pem = (
        settings.BERTH_TOKEN_PRIVATE_KEY.encode()
        if settings.BERTH_TOKEN_PRIVATE_KEY
        else load_or_create_pem(
            settings.BERTH_TOKEN_KEY_FILE, lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
    )
    return serialization.load_pem_private_key(pem, password=None)


@lru_cache(maxsize=1)
def schema1_signing_key():
    """EC P-256 key that signs schema 1 manifests converted for old Docker engines
    (ES256, as the reference registry's libtrust keys are)."""
    return serialization.load_pem_private_key(
        load_or_create_pem(settings.BERTH_SCHEMA1_KEY_FILE, lambda: ec.generate_private_key(ec.SECP256R1())),
        password=None,
    )

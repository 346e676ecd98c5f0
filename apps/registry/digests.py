"""Content digests as the OCI image spec defines them."""
from __future__ import annotations

import hashlib
import re

from .errors import RegistryError

ALGORITHMS = {
    "sha256": (hashlib.sha256, re.compile(r"^[a-f0-9]{64}$")),
    "sha512": (hashlib.sha512, re.compile(r"^[a-f0-9]{128}$")),
}
DIGEST_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


def parse_digest(value: str) -> tuple[str, str]:
    """Split a digest into (algorithm, hex), refusing anything we cannot verify."""
    if not value or not DIGEST_GRAMMAR.fullmatch(value):
        raise RegistryError("DIGEST_INVALID", f"invalid digest {value[:200]!r}")
    algorithm, encoded = value.split(":", 1)
    if algorithm not in ALGORITHMS:
        raise RegistryError("UNSUPPORTED", f"digest algorithm {algorithm!r} is not supported", status=400)
    if not ALGORITHMS[algorithm][1].fullmatch(encoded):
        raise RegistryError("DIGEST_INVALID", f"invalid {algorithm} digest {value[:200]!r}")
    return algorithm, encoded


def is_digest(value: str) -> bool:
    return ":" in value


def new_hasher(algorithm: str = "sha256"):
    return ALGORITHMS[algorithm][0]()


def digest_bytes(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{ALGORITHMS[algorithm][0](data).hexdigest()}"

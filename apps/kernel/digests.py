"""Content digests as the OCI image spec defines them."""

from __future__ import annotations

import hashlib
import re

from .errors import DomainError

ALGORITHMS = {
    "sha256": (hashlib.sha256, re.compile(r"^[a-f0-9]{64}$")),
    "sha512": (hashlib.sha512, re.compile(r"^[a-f0-9]{128}$")),
}
DIGEST_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


class DigestInvalid(DomainError):
    """``digest`` is not a digest: outside the grammar, or its encoded part is not
    what its ``algorithm`` ("" when unreadable) produces."""

    def __init__(self, digest: str, *, algorithm: str = "") -> None:
        self.digest = digest
        self.algorithm = algorithm
        super().__init__(self._describe())

    def _describe(self) -> str:
        return f"invalid {self.algorithm + ' ' if self.algorithm else ''}digest {self.digest[:200]!r}"


class DigestAlgorithmUnsupported(DigestInvalid):
    """A digest in the grammar whose ``algorithm`` Berth cannot verify."""

    def _describe(self) -> str:
        return f"digest algorithm {self.algorithm!r} is not supported"


def parse_digest(value: str) -> tuple[str, str]:
    """Split a digest into (algorithm, hex), refusing anything we cannot verify."""
    if not value or not DIGEST_GRAMMAR.fullmatch(value):
        raise DigestInvalid(value)
    algorithm, encoded = value.split(":", 1)
    if algorithm not in ALGORITHMS:
        raise DigestAlgorithmUnsupported(value, algorithm=algorithm)
    if not ALGORITHMS[algorithm][1].fullmatch(encoded):
        raise DigestInvalid(value, algorithm=algorithm)
    return algorithm, encoded


def is_digest(value: str) -> bool:
    return ":" in value


def new_hasher(algorithm: str = "sha256"):
    return ALGORITHMS[algorithm][0]()


def digest_bytes(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{ALGORITHMS[algorithm][0](data).hexdigest()}"

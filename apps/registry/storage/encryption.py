"""How a repository's blobs are encrypted at rest (Amazon ECR's EncryptionConfiguration).

An ``Encryption`` is the setting a repository was created with; blob stores take it
on every call. Each setting is a *scope*: a store keeps one copy of a blob per scope,
under the scope's own keys, so that blobs are shared only between repositories whose
settings agree. ``PLAIN`` (no encryption) keeps the keys blobs had before encryption
existed: no data moves.

- ``AES256``: S3's SSE-S3; on the filesystem, envelope encryption with a per-blob
  data key wrapped by Berth's master key (apps.registry.storage.envelope).
- ``KMS`` with ``key``: S3's SSE-KMS with that key id, ARN or alias; on the
  filesystem, a named key of Berth's key ring (apps.registry.storage.keyring)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

NONE = ""
AES256 = "AES256"
KMS = "KMS"
TYPES = (NONE, AES256, KMS)
# Amazon ECR's dual-layer KMS encryption: Berth has no second layer to offer.
KMS_DSSE = "KMS_DSSE"
KMS_KEY_MAX_LENGTH = 2048


@dataclass(frozen=True)
class Encryption:
    type: str = NONE  # "", "AES256" or "KMS"
    key: str = ""  # KMS only: the key (S3: id, ARN or alias; filesystem: a key ring name)

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown encryption type {self.type!r}")
        if (self.type == KMS) != bool(self.key):
            raise ValueError("KMS encryption needs a key, and only KMS takes one")

    @property
    def encrypted(self) -> bool:
        return self.type != NONE

    @property
    def scope(self) -> str:
        """The scope's name in storage keys: "" (plain), "aes256" or "kms/<key, quoted>"."""
        if self.type == NONE:
            return ""
        if self.type == AES256:
            return "aes256"
        return f"kms/{quote(self.key, safe='')}"

    @classmethod
    def from_scope(cls, scope: str) -> Encryption:
        """The inverse of ``scope``; ValueError for anything else."""
        if scope == "":
            return PLAIN
        if scope == "aes256":
            return cls(AES256)
        kind, _, key = scope.partition("/")
        if kind == "kms" and key and "/" not in key:
            return cls(KMS, unquote(key))
        raise ValueError(f"not an encryption scope: {scope!r}")

    def describe(self) -> str:
        if self.type == NONE:
            return "none"
        return self.type if self.type == AES256 else f"KMS ({self.key})"


PLAIN = Encryption()


def of(repository) -> Encryption:
    """A repository's setting (apps.repositories.models.Repository's encryption fields)."""
    kind = getattr(repository, "encryption_type", NONE) or NONE
    if kind == NONE:
        return PLAIN
    return Encryption(kind, getattr(repository, "kms_key", "") if kind == KMS else "")

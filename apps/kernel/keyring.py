"""Berth's local key ring: the keys that wrap the data keys of the filesystem
store's encrypted blobs (apps.registry.storage.envelope, docs/encryption.md).

- The master key(s) (``BERTH_ENCRYPTION_MASTER_KEYS``, or one created once in the
  data directory): the first wraps, every one unwraps. They wrap the data keys of
  ``AES256`` blobs, and the key ring's own keys.
- Named keys, for ``KMS`` repositories on the filesystem (``berth keys create``).
  A key has versions: ``berth keys rotate`` adds one, which wraps new blobs; the
  older ones still unwrap the blobs they wrapped until ``berth keys rewrap`` has
  moved those to the current version and ``berth keys retire`` removes them.

The ring is a JSON file (``BERTH_KEY_RING_FILE``, 0600) whose keys are stored
wrapped (AES key wrap, RFC 3394) by the first master key: the file alone reveals
nothing. It is written whole (a new file renamed over the old) under a lock, and
re-read by every process when it changes, so a rotation reaches running servers
at their next blob."""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from django.conf import settings

from apps.kernel.errors import DomainError

KEY_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
_KEY_NAME = re.compile(KEY_NAME_PATTERN)
MASTER = ""  # the name envelope headers give the master key
KEY_BYTES = 32


class KeyRingError(DomainError):
    """A key ring operation or lookup that cannot be carried out."""


class KeyUnavailable(KeyRingError):
    """A blob names a key (or key version) the ring no longer holds, or cannot unwrap."""

    def __init__(self, message: str, *, name: str, version: int | None = None) -> None:
        self.name = name
        self.version = version
        super().__init__(message)


def decode_master_key(text: str) -> bytes:
    """A master key as configured: 32 bytes in (URL-safe) base64."""
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ValueError("an encryption master key is 32 random bytes in URL-safe base64 (44 characters)")
    return raw


def validate_key_name(name: str) -> None:
    if not isinstance(name, str) or not _KEY_NAME.fullmatch(name):
        raise KeyRingError(
            f"invalid key name {str(name)[:100]!r}: 1 to 64 lowercase letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )


@dataclass(frozen=True)
class KeyInfo:
    name: str
    current: int
    versions: tuple[int, ...]
    created_at: str


class KeyRing:
    def __init__(self, path: str | os.PathLike, master_keys: list[bytes]) -> None:
        if not master_keys:
            raise ValueError("the key ring needs a master key")
        self.path = Path(path)
        self.master_keys = list(master_keys)
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._data: dict = {"format": 1, "keys": {}}
        self._plain: dict[tuple[str, int], bytes] = {}

    # -- the master key -------------------------------------------------------

    def wrap_with_master(self, key: bytes) -> bytes:
        return aes_key_wrap(self.master_keys[0], key)

    def unwrap_with_master(self, wrapped: bytes) -> bytes | None:
        for master in self.master_keys:
            try:
                return aes_key_unwrap(master, wrapped)
            except InvalidUnwrap:
                continue
        return None

    # -- reading --------------------------------------------------------------

    def _load(self) -> dict:
        try:
            status = self.path.stat()
        except FileNotFoundError:
            with self._lock:
                self._seen, self._data, self._plain = None, {"format": 1, "keys": {}}, {}
                return self._data
        seen = (status.st_mtime_ns, status.st_size, status.st_ino)
        with self._lock:
            if seen != self._seen:
                self._data = json.loads(self.path.read_text())
                self._plain = {}
                self._seen = seen
            return self._data

    def keys(self) -> list[KeyInfo]:
        data = self._load()
        return [
            KeyInfo(
                name=name,
                current=entry["current"],
                versions=tuple(sorted(int(v) for v in entry["versions"])),
                created_at=entry["created_at"],
            )
            for name, entry in sorted(data["keys"].items())
        ]

    def has(self, name: str) -> bool:
        return name in self._load()["keys"]

    def current(self, name: str) -> tuple[int, bytes]:
        """The version that wraps new blobs of key ``name``, and its key."""
        entry = self._load()["keys"].get(name)
        if entry is None:
            raise KeyUnavailable(f"the key ring holds no key named {name!r} (berth keys create {name})", name=name)
        version = entry["current"]
        return version, self.key(name, version)

    def key(self, name: str, version: int) -> bytes:
        data = self._load()
        cached = self._plain.get((name, version))
        if cached is not None:
            return cached
        entry = data["keys"].get(name)
        if entry is None:
            raise KeyUnavailable(f"the key ring holds no key named {name!r}", name=name, version=version)
        wrapped = entry["versions"].get(str(version))
        if wrapped is None:
            raise KeyUnavailable(
                f"key {name!r} has no version {version} any more (retired); the blob it wrapped cannot be read",
                name=name,
                version=version,
            )
        plain = self.unwrap_with_master(base64.b64decode(wrapped["wrapped"]))
        if plain is None:
            raise KeyUnavailable(
                f"key {name!r} version {version} cannot be unwrapped by the configured master keys",
                name=name,
                version=version,
            )
        with self._lock:
            self._plain[(name, version)] = plain
        return plain

    # -- writing --------------------------------------------------------------

    def _change(self, change) -> dict:
        """Apply ``change(data)`` to the ring's file under its lock, and write it whole."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                data = json.loads(self.path.read_text())
            except FileNotFoundError:
                data = {"format": 1, "keys": {}}
            result = change(data)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        return result

    def _new_version(self) -> dict:
        return {
            "wrapped": base64.b64encode(self.wrap_with_master(os.urandom(KEY_BYTES))).decode("ascii"),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def create(self, name: str) -> KeyInfo:
        validate_key_name(name)

        def change(data):
            if name in data["keys"]:
                raise KeyRingError(f"the key ring already holds a key named {name!r}")
            data["keys"][name] = {
                "current": 1,
                "versions": {"1": self._new_version()},
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }

        self._change(change)
        return self._info(name)

    def rotate(self, name: str) -> KeyInfo:
        """A new version of ``name``, which wraps every blob written from now on."""

        def change(data):
            entry = data["keys"].get(name)
            if entry is None:
                raise KeyRingError(f"the key ring holds no key named {name!r}")
            version = max(int(v) for v in entry["versions"]) + 1
            entry["versions"][str(version)] = self._new_version()
            entry["current"] = version

        self._change(change)
        return self._info(name)

    def retire(self, name: str, version: int) -> KeyInfo:
        """Remove an old version: blobs it still wraps can no longer be read (rewrap them first)."""

        def change(data):
            entry = data["keys"].get(name)
            if entry is None:
                raise KeyRingError(f"the key ring holds no key named {name!r}")
            if str(version) not in entry["versions"]:
                raise KeyRingError(f"key {name!r} has no version {version}")
            if entry["current"] == version:
                raise KeyRingError(f"version {version} is key {name!r}'s current version: rotate first")
            del entry["versions"][str(version)]

        self._change(change)
        return self._info(name)

    def _info(self, name: str) -> KeyInfo:
        return next(info for info in self.keys() if info.name == name)


_ring: KeyRing | None = None
_ring_config: tuple | None = None


def get_key_ring() -> KeyRing:
    """The key ring the settings describe (one a process, rebuilt when they change)."""
    global _ring, _ring_config
    config = (str(settings.BERTH_KEY_RING_FILE), tuple(settings.BERTH_ENCRYPTION_MASTER_KEYS))
    if _ring is None or config != _ring_config:
        _ring = KeyRing(config[0], [decode_master_key(key) for key in config[1]])
        _ring_config = config
    return _ring

"""Secrets Berth must read back (an upstream registry's password, a replication
destination's credentials), sealed at rest with Fernet (AES-128-CBC and
HMAC-SHA256, from cryptography).

The keys are ``settings.BERTH_SEALING_KEYS``: the first seals, every one unseals,
so a new key goes first and the old one stays while values it sealed remain (a
value is sealed again with the first key whenever it is written). By default one
key is generated into the data directory; a scaled-out deployment sets
``BERTH_SEALING_KEYS`` on every process."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from .errors import DomainError


class SealedValueUnreadable(DomainError):
    """A sealed value none of the keys opens (the key that sealed it is gone)."""


def _keys() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.BERTH_SEALING_KEYS])


def seal(text: str) -> str:
    """``text`` encrypted and authenticated with the first key, as ASCII."""
    return _keys().encrypt(text.encode()).decode("ascii")


def unseal(token: str) -> str:
    """The text ``seal`` sealed; SealedValueUnreadable if no key opens it or it was altered."""
    try:
        return _keys().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise SealedValueUnreadable(
            "a sealed secret could not be read: none of BERTH_SEALING_KEYS opens it (was the key that sealed it "
            "removed?); put the secret again"
        ) from exc


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")

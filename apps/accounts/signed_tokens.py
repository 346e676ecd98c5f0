"""Self-contained signed tokens: login passwords (apps.accounts.login_passwords)
and role session tokens (apps.iam.session_tokens) share this shape:

    <prefix>.<payload>.<mac>

`payload` is base64url JSON claims; `mac` is HMAC-SHA256 over `<prefix>.<payload>`
under a key derived from SECRET_KEY and a salt of the token's own (keys in
SECRET_KEY_FALLBACKS still verify, so rotating the key need not sign everyone
out). Checking one costs two HMACs and no stored state."""

from __future__ import annotations

import base64
import binascii
import hmac
import json

from django.conf import settings
from django.utils.crypto import salted_hmac


class InvalidSignedToken(ValueError):
    """Not a token of this kind that Berth signed; the message says why, naming the kind."""


def _mac(signing_input: str, *, salt: str, secret: str) -> bytes:
    return salted_hmac(salt, signing_input, secret, algorithm="sha256").digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claims: dict, *, prefix: str, salt: str) -> str:
    signing_input = f"{prefix}.{_b64encode(json.dumps(claims, separators=(',', ':')).encode())}"
    return f"{signing_input}.{_b64encode(_mac(signing_input, salt=salt, secret=settings.SECRET_KEY))}"


def unsign(token: str, *, prefix: str, salt: str, max_length: int, noun: str) -> dict:
    """The claims of a token this prefix and salt signed (a JSON object); raises
    InvalidSignedToken otherwise. ``noun`` names the kind in the messages."""
    if len(token) > max_length:
        raise InvalidSignedToken(f"too long to be a {noun}")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != prefix or not parts[1] or not parts[2]:
        raise InvalidSignedToken(f"not a {noun}")
    _, payload, mac = parts
    try:
        given_mac = _b64decode(mac)
    except (binascii.Error, ValueError):
        raise InvalidSignedToken(f"not a {noun}") from None
    signing_input = f"{prefix}.{payload}"
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    if not any(hmac.compare_digest(given_mac, _mac(signing_input, salt=salt, secret=s)) for s in secrets):
        raise InvalidSignedToken(f"the {noun}'s signature does not match")
    try:
        claims = json.loads(_b64decode(payload))
    except (binascii.Error, ValueError):
        # Signed but unreadable: only a key shared with something else could make one.
        raise InvalidSignedToken(f"malformed {noun}") from None
    if not isinstance(claims, dict):
        raise InvalidSignedToken(f"malformed {noun}")
    return claims

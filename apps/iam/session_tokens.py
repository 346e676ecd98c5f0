"""Session tokens: the third part of a role session's temporary credentials (with
the access key id and secret), what AWS calls the security token.

A session token is self-contained and signed the way login passwords are
(apps.accounts.login_passwords):

    bst1.<payload>.<mac>

`payload` is base64url JSON with the session's row id (`sid`), its access key id
(`kid`) and expiry (`exp`, Unix seconds); `mac` is HMAC-SHA256 over
`bst1.<payload>` under a key derived from SECRET_KEY (SECRET_KEY_FALLBACKS still
verify). The signature proves Berth issued it; the caller still checks that the
row exists, belongs to the key id and has not expired, so deleting a session or
its role ends it at once."""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import salted_hmac

PREFIX = "bst1"
_MAC_SALT = "berth.iam.session_tokens.mac"
MAX_LENGTH = 1024


class InvalidSessionToken(ValueError):
    """Not a session token Berth signed, or one past its expiry."""


@dataclass(frozen=True)
class SessionTokenClaims:
    session_id: int
    access_key_id: str
    expires_at: int


def _mac(signing_input: str, secret: str) -> bytes:
    return salted_hmac(_MAC_SALT, signing_input, secret, algorithm="sha256").digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def looks_like_session_token(text: str) -> bool:
    return text.startswith(PREFIX + ".")


def issue(*, session_id: int, access_key_id: str, expires_at: int) -> str:
    claims = {"sid": session_id, "kid": access_key_id, "exp": expires_at}
    signing_input = f"{PREFIX}.{_b64encode(json.dumps(claims, separators=(',', ':')).encode())}"
    return f"{signing_input}.{_b64encode(_mac(signing_input, settings.SECRET_KEY))}"


def verify(token: str, *, now: float | None = None) -> SessionTokenClaims:
    """The claims of a genuine, unexpired session token; InvalidSessionToken otherwise."""
    if len(token) > MAX_LENGTH:
        raise InvalidSessionToken("too long to be a session token")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        raise InvalidSessionToken("not a session token")
    _, payload, mac = parts
    try:
        given_mac = _b64decode(mac)
    except (binascii.Error, ValueError):
        raise InvalidSessionToken("not a session token") from None
    signing_input = f"{PREFIX}.{payload}"
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    if not any(hmac.compare_digest(given_mac, _mac(signing_input, secret)) for secret in secrets):
        raise InvalidSessionToken("the session token's signature does not match")
    try:
        raw = json.loads(_b64decode(payload))
        claims = SessionTokenClaims(session_id=raw["sid"], access_key_id=raw["kid"], expires_at=raw["exp"])
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidSessionToken("malformed session token") from None
    if not (
        type(claims.session_id) is int and isinstance(claims.access_key_id, str) and type(claims.expires_at) is int
    ):
        raise InvalidSessionToken("malformed session token")
    if (time.time() if now is None else now) >= claims.expires_at:
        raise InvalidSessionToken("the session token has expired")
    return claims

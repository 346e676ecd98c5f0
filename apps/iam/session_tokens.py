"""Session tokens: the third part of a role session's temporary credentials (with
the access key id and secret), what AWS calls the security token.

A session token is self-contained and signed like login passwords
(apps.accounts.signed_tokens):

    bst1.<payload>.<mac>

`payload` is base64url JSON with the session's row id (`sid`), its access key id
(`kid`) and expiry (`exp`, Unix seconds); `mac` is HMAC-SHA256 over
`bst1.<payload>` under a key derived from SECRET_KEY (SECRET_KEY_FALLBACKS still
verify). The signature proves Berth issued it; the caller still checks that the
row exists, belongs to the key id and has not expired, so deleting a session or
its role ends it at once."""

from __future__ import annotations

import time
from dataclasses import dataclass

from apps.accounts import signed_tokens

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


def looks_like_session_token(text: str) -> bool:
    return text.startswith(PREFIX + ".")


def issue(*, session_id: int, access_key_id: str, expires_at: int) -> str:
    claims = {"sid": session_id, "kid": access_key_id, "exp": expires_at}
    return signed_tokens.sign(claims, prefix=PREFIX, salt=_MAC_SALT)


def verify(token: str, *, now: float | None = None) -> SessionTokenClaims:
    """The claims of a genuine, unexpired session token; InvalidSessionToken otherwise."""
    try:
        raw = signed_tokens.unsign(token, prefix=PREFIX, salt=_MAC_SALT, max_length=MAX_LENGTH, noun="session token")
        claims = SessionTokenClaims(session_id=raw["sid"], access_key_id=raw["kid"], expires_at=raw["exp"])
    except signed_tokens.InvalidSignedToken as exc:
        raise InvalidSessionToken(str(exc)) from None
    except KeyError:
        raise InvalidSessionToken("malformed session token") from None
    if not (
        type(claims.session_id) is int and isinstance(claims.access_key_id, str) and type(claims.expires_at) is int
    ):
        raise InvalidSessionToken("malformed session token")
    if (time.time() if now is None else now) >= claims.expires_at:
        raise InvalidSessionToken("the session token has expired")
    return claims

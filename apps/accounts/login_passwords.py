"""Login passwords: what Amazon ECR's GetAuthorizationToken hands out for
`docker login --username AWS --password-stdin`.

A login password is self-contained, so checking one costs two HMACs and no
stored state:

    blp1.<payload>.<mac>

`payload` is base64url JSON naming the user (`sub`), a fingerprint of that user's
current password hash (`crd`), and when it was issued and expires (`iat`, `exp`,
Unix seconds); `mac` is HMAC-SHA256 over `blp1.<payload>` under a key derived from
SECRET_KEY (SECRET_KEY_FALLBACKS still verify, so rotating the key need not log
everyone out). A password change gives the user a new hash, so the fingerprint
no longer matches and every login password issued before it stops working, the
way Django ends the user's sessions.

One minted with an access key names it (`key`), and stops working when that key is
deactivated or deleted: a leaked key's holder keeps nothing once the key is off.

A role session (apps.iam, temporary credentials) gets login passwords too: they
carry the session's row id (`ses`) instead of a user, and fingerprint the
session's secret hash, so deleting the session revokes them; they never outlive
the session.

Nothing here touches the database: the caller supplies the password hash on
issue and compares the fingerprint with the stored hash on use
(`LoginPassword.matches_credentials`)."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import salted_hmac

from . import signed_tokens

PREFIX = "blp1"
_MAC_SALT = "berth.accounts.login_passwords.mac"
_FINGERPRINT_SALT = "berth.accounts.login_passwords.credentials"
# Far above any real password (about 160 characters); bounds the work an attacker can ask for.
MAX_LENGTH = 1024


class InvalidLoginPassword(ValueError):
    """Not a login password Berth signed: malformed, tampered with, or signed with another key."""


class ExpiredLoginPassword(InvalidLoginPassword):
    """A genuine login password past its expiry."""


@dataclass(frozen=True)
class LoginPassword:
    user_id: str
    credentials_fingerprint: str
    issued_at: int
    expires_at: int
    session_id: int | None = None  # set for a role session's login password (user_id is then "")
    access_key_id: str = ""  # the access key it was minted with, if any

    def matches_credentials(self, password_hash: str) -> bool:
        """Whether the user's stored password hash is still the one this was issued against."""
        return any(
            hmac.compare_digest(self.credentials_fingerprint, _fingerprint(password_hash, secret))
            for secret in _secrets()
        )


@dataclass(frozen=True)
class IssuedLoginPassword:
    password: str
    issued_at: int
    expires_at: int


def _secrets() -> list[str]:
    return [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]


def _fingerprint(password_hash: str, secret: str) -> str:
    return salted_hmac(_FINGERPRINT_SALT, password_hash, secret, algorithm="sha256").hexdigest()[:32]


def looks_like_login_password(text: str) -> bool:
    """Whether ``text`` has the shape of a login password (not whether it is valid)."""
    return text.startswith(PREFIX + ".")


def issue(
    *,
    user_id,
    password_hash: str,
    now: float | None = None,
    ttl: int | None = None,
    session_id: int | None = None,
    access_key_id: str = "",
) -> IssuedLoginPassword:
    """A login password for this user, valid ``ttl`` seconds (BERTH_LOGIN_PASSWORD_TTL)
    from ``now`` and while the user's password hash stays ``password_hash`` (and,
    given ``access_key_id``, while that key stays active: the caller checks).

    For a role session pass ``session_id`` (and ``user_id=""``) with the session's
    secret hash as ``password_hash``."""
    issued_at = int(time.time() if now is None else now)
    expires_at = issued_at + (settings.BERTH_LOGIN_PASSWORD_TTL if ttl is None else ttl)
    claims = {
        "sub": str(user_id),
        "crd": _fingerprint(password_hash, settings.SECRET_KEY),
        "iat": issued_at,
        "exp": expires_at,
    }
    if session_id is not None:
        claims["ses"] = session_id
    if access_key_id:
        claims["key"] = access_key_id
    password = signed_tokens.sign(claims, prefix=PREFIX, salt=_MAC_SALT)
    return IssuedLoginPassword(password=password, issued_at=issued_at, expires_at=expires_at)


def verify(password: str, *, now: float | None = None) -> LoginPassword:
    """The claims of a genuine, unexpired login password.

    Raises ExpiredLoginPassword past its expiry, InvalidLoginPassword for anything
    else Berth did not sign. Whether the user still exists, is active and has the
    same password is the caller's check (it needs the database)."""
    try:
        claims = signed_tokens.unsign(
            password, prefix=PREFIX, salt=_MAC_SALT, max_length=MAX_LENGTH, noun="login password"
        )
    except signed_tokens.InvalidSignedToken as exc:
        raise InvalidLoginPassword(str(exc)) from None
    try:
        login_password = LoginPassword(
            user_id=claims["sub"],
            credentials_fingerprint=claims["crd"],
            issued_at=claims["iat"],
            expires_at=claims["exp"],
            session_id=claims.get("ses"),
            access_key_id=claims.get("key", ""),
        )
    except KeyError:
        # Signed but unreadable: only a key shared with something else could make one.
        raise InvalidLoginPassword("malformed login password") from None
    if not (
        isinstance(login_password.user_id, str)
        and isinstance(login_password.credentials_fingerprint, str)
        and type(login_password.issued_at) is int
        and type(login_password.expires_at) is int
        and (login_password.session_id is None or type(login_password.session_id) is int)
        and isinstance(login_password.access_key_id, str)
    ):
        raise InvalidLoginPassword("malformed login password")
    if (time.time() if now is None else now) >= login_password.expires_at:
        raise ExpiredLoginPassword("the login password has expired")
    return login_password

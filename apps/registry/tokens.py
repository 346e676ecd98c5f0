"""Registry bearer tokens (the Docker registry token spec): RS256 JWTs that carry
exactly the granted actions, signed by a key kept in the data directory.

A token also names its caller (root, IAM user or role session, with the access
key that signed in and a fingerprint of the user's password), so that every /v2/
request rebuilds the Caller from the token alone: the hot path runs no query to
learn who is asking, and asks whether the credential still holds in the query it
runs anyway (apps.iam.credentials)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

import jwt
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from apps.iam.callers import ANONYMOUS, Caller

from .keys import token_signing_key

ALGORITHM = "RS256"
_LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class AccessGrant:
    type: str  # "repository" or "registry"
    name: str
    actions: tuple[str, ...]

    def as_claim(self) -> dict:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}


class InvalidToken(Exception):
    pass


class PrincipalType:
    """The token's `berth:principal` type."""

    ROOT = "root"
    USER = "user"
    ROLE_SESSION = "role-session"
    ANONYMOUS = "anonymous"


def _principal_claim(caller: Caller) -> dict:
    if caller.is_anonymous:
        return {"type": PrincipalType.ANONYMOUS}
    if caller.is_role_session:
        return {
            "type": PrincipalType.ROLE_SESSION,
            "role_session_id": caller.role_session_id,
            "role": caller.role_name,
            "role_path": caller.role_path,
            "session": caller.session_name,
            "access_key_id": caller.access_key_id,
        }
    return {
        "type": PrincipalType.ROOT if caller.is_root else PrincipalType.USER,
        "user_id": caller.user_id,
        "access_key_id": caller.access_key_id,
        "credential": caller.credential,
    }


def _caller_from_claims(subject: str, account_id: str, claim: object) -> Caller:
    if not isinstance(claim, dict):
        raise InvalidToken("the token names no principal")
    kind = claim.get("type")
    if kind == PrincipalType.ANONYMOUS or not account_id:
        return ANONYMOUS
    try:
        if kind == PrincipalType.ROLE_SESSION:
            return Caller(
                account_id=account_id,
                role_session_id=int(claim["role_session_id"]),
                role_name=str(claim["role"]),
                role_path=str(claim["role_path"]),
                session_name=str(claim["session"]),
                access_key_id=str(claim.get("access_key_id") or ""),
            )
        if kind in (PrincipalType.ROOT, PrincipalType.USER):
            return Caller(
                account_id=account_id,
                username=subject,
                user_id=int(claim["user_id"]),
                is_root=kind == PrincipalType.ROOT,
                access_key_id=str(claim.get("access_key_id") or ""),
                credential=str(claim.get("credential") or ""),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidToken("malformed principal claim") from exc
    raise InvalidToken(f"unknown principal type {str(kind)[:40]!r}")


@dataclass(frozen=True)
class TokenClaims:
    caller: Caller
    access: tuple[AccessGrant, ...]
    expires_at: float

    def allows(self, type_: str, name: str, action: str) -> bool:
        return any(
            grant.type == type_ and grant.name == name and (action in grant.actions or "*" in grant.actions)
            for grant in self.access
        )


class _Keys:
    def __init__(self, private_key) -> None:
        self.private_key = private_key
        self.public_key = self.private_key.public_key()
        der = self.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        # The libtrust-style key id Docker's registry uses: base32 of a truncated SHA-256.
        raw = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
        self.key_id = ":".join(raw[i : i + 4] for i in range(0, 48, 4))


@lru_cache(maxsize=1)
def signing_keys() -> _Keys:
    return _Keys(token_signing_key())


def issue_token(
    *, caller: Caller, access: list[AccessGrant], service: str, not_after: float | None = None
) -> tuple[str, int, int]:
    """Returns (token, expires_in, issued_at). ``not_after`` caps the lifetime (a
    role session's token never outlives the session)."""
    keys = signing_keys()
    now = int(time.time())
    ttl = settings.BERTH_TOKEN_TTL
    if not_after is not None:
        ttl = max(0, min(ttl, int(not_after) - now))
    claims = {
        "iss": settings.BERTH_TOKEN_ISSUER,
        # A user's name; a role session's ARN; "" for anonymous.
        "sub": caller.username or caller.arn,
        "aud": service,
        "exp": now + ttl,
        "nbf": now - 1,
        "iat": now,
        "jti": secrets.token_urlsafe(16),
        "access": [grant.as_claim() for grant in access],
        "berth:account": caller.account_id,
        "berth:principal": _principal_claim(caller),
    }
    token = jwt.encode(claims, keys.private_key, algorithm=ALGORITHM, headers={"kid": keys.key_id})
    return token, ttl, now


class _VerifiedCache:
    """Verified tokens by their text: a client sends the same token for every
    request of a pull, and RSA verification is the costliest step of a manifest GET."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._entries: dict[str, TokenClaims] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> TokenClaims | None:
        claims = self._entries.get(token)
        if claims is not None and claims.expires_at + _LEEWAY_SECONDS < time.time():
            with self._lock:
                self._entries.pop(token, None)
            return None
        return claims

    def put(self, token: str, claims: TokenClaims) -> None:
        with self._lock:
            if len(self._entries) >= self._size:
                now = time.time()
                for key in [k for k, c in self._entries.items() if c.expires_at + _LEEWAY_SECONDS < now]:
                    del self._entries[key]
                while len(self._entries) >= self._size:
                    del self._entries[next(iter(self._entries))]
            self._entries[token] = claims


_verified = _VerifiedCache()


def verify_token(token: str) -> TokenClaims:
    """Check signature, expiry, not-before, issuer and audience; return the grants."""
    cached = _verified.get(token)
    if cached is not None:
        return cached
    try:
        payload = jwt.decode(
            token,
            signing_keys().public_key,
            algorithms=[ALGORITHM],
            audience=settings.BERTH_TOKEN_SERVICE,
            issuer=settings.BERTH_TOKEN_ISSUER,
            leeway=_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "aud", "iss", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    try:
        access = tuple(
            AccessGrant(str(item["type"]), str(item["name"]), tuple(str(a) for a in item["actions"]))
            for item in payload.get("access") or []
        )
    except (KeyError, TypeError) as exc:
        raise InvalidToken("malformed access claim") from exc
    caller = _caller_from_claims(
        str(payload["sub"]), str(payload.get("berth:account") or ""), payload.get("berth:principal")
    )
    claims = TokenClaims(caller=caller, access=access, expires_at=float(payload["exp"]))
    _verified.put(token, claims)
    return claims

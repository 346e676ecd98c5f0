"""Registry bearer tokens (the Docker registry token spec): RS256 JWTs that carry
exactly the granted actions, signed by a key kept in the data directory."""
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


@dataclass(frozen=True)
class TokenClaims:
    subject: str  # username, or "" for anonymous
    account_id: str  # the subject's account, "" for anonymous
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
        der = self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # The libtrust-style key id Docker's registry uses: base32 of a truncated SHA-256.
        raw = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
        self.key_id = ":".join(raw[i : i + 4] for i in range(0, 48, 4))


@lru_cache(maxsize=1)
def signing_keys() -> _Keys:
    return _Keys(token_signing_key())


def issue_token(*, subject: str, account_id: str, access: list[AccessGrant], service: str) -> tuple[str, int, int]:
    """Returns (token, expires_in, issued_at)."""
    keys = signing_keys()
    now = int(time.time())
    ttl = settings.BERTH_TOKEN_TTL
    claims = {
        "iss": settings.BERTH_TOKEN_ISSUER,
        "sub": subject,
        "aud": service,
        "exp": now + ttl,
        "nbf": now - 1,
        "iat": now,
        "jti": secrets.token_urlsafe(16),
        "access": [grant.as_claim() for grant in access],
        "berth:account": account_id,
    }
    token = jwt.encode(claims, keys.private_key, algorithm=ALGORITHM, headers={"kid": keys.key_id})
    return token, ttl, now


class InvalidToken(Exception):
    pass


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
    claims = TokenClaims(
        subject=str(payload["sub"]),
        account_id=str(payload.get("berth:account") or ""),
        access=access,
        expires_at=float(payload["exp"]),
    )
    _verified.put(token, claims)
    return claims

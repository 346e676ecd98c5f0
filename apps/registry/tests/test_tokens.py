"""Registry tokens are checked for signature, expiry, audience and issuer."""
from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from apps.registry.tokens import AccessGrant, InvalidToken, issue_token, signing_keys, verify_token

GRANT = [AccessGrant("repository", "123456789012/app", ("pull",))]


def claims(**overrides):
    now = int(time.time())
    base = {"iss": "berth-token-service", "sub": "alice", "aud": "berth-registry", "exp": now + 60, "iat": now,
            "nbf": now, "access": [g.as_claim() for g in GRANT], "berth:account": "123456789012"}
    base.update(overrides)
    return base


def test_round_trip():
    token, expires_in, _ = issue_token(subject="alice", account_id="123456789012", access=GRANT, service="berth-registry")
    verified = verify_token(token)
    assert verified.allows("repository", "123456789012/app", "pull")
    assert not verified.allows("repository", "123456789012/app", "push")
    assert not verified.allows("repository", "123456789012/other", "pull")
    assert expires_in > 0


@pytest.mark.parametrize(
    "overrides",
    [{"exp": int(time.time()) - 3600}, {"aud": "someone-else"}, {"iss": "another-issuer"}],
    ids=["expired", "wrong-audience", "wrong-issuer"],
)
def test_rejected_claims(overrides):
    token = jwt.encode(claims(**overrides), signing_keys().private_key, algorithm="RS256")
    with pytest.raises(InvalidToken):
        verify_token(token)


def test_foreign_signature_is_rejected():
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(), stranger, algorithm="RS256")
    with pytest.raises(InvalidToken):
        verify_token(token)


def test_unsigned_token_is_rejected():
    token = jwt.encode(claims(), None, algorithm="none")
    with pytest.raises(InvalidToken):
        verify_token(token)

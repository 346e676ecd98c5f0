"""Registry tokens are checked for signature, expiry, audience and issuer."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from apps.iam.callers import ANONYMOUS, Caller
from apps.registry.tokens import AccessGrant, InvalidToken, issue_token, signing_keys, verify_token

GRANT = [AccessGrant("repository", "123456789012/app", ("pull",))]
ALICE = Caller(account_id="123456789012", username="alice", user_id=7, access_key_id="BKIAAAAAAAAAAAAAAAAA")


def claims(**overrides):
    now = int(time.time())
    base = {
        "iss": "berth-token-service",
        "sub": "alice",
        "aud": "berth-registry",
        "exp": now + 60,
        "iat": now,
        "nbf": now,
        "access": [g.as_claim() for g in GRANT],
        "berth:account": "123456789012",
        "berth:principal": {"type": "user", "user_id": 7},
    }
    base.update(overrides)
    return base


def test_round_trip():
    token, expires_in, _ = issue_token(caller=ALICE, access=GRANT, service="berth-registry")
    verified = verify_token(token)
    assert verified.allows("repository", "123456789012/app", "pull")
    assert not verified.allows("repository", "123456789012/app", "push")
    assert not verified.allows("repository", "123456789012/other", "pull")
    assert expires_in > 0


@pytest.mark.parametrize(
    "caller",
    [
        ALICE,
        Caller(account_id="123456789012", username="root", user_id=1, is_root=True),
        Caller(
            account_id="123456789012",
            role_session_id=5,
            role_name="ci",
            role_path="/build/",
            session_name="job-1",
            access_key_id="BSIAAAAAAAAAAAAAAAAA",
        ),
        ANONYMOUS,
    ],
    ids=["user", "root", "role-session", "anonymous"],
)
def test_the_token_names_its_caller(caller):
    """Every /v2/ request rebuilds its caller from the token alone."""
    token, _, _ = issue_token(caller=caller, access=GRANT, service="berth-registry")
    assert verify_token(token).caller == caller


def test_lifetime_is_capped(settings):
    settings.BERTH_TOKEN_TTL = 300
    _, expires_in, issued_at = issue_token(
        caller=ALICE, access=GRANT, service="berth-registry", not_after=time.time() + 60
    )
    assert 58 <= expires_in <= 60


def test_a_token_without_its_principal_is_rejected():
    assert verify_token(jwt.encode(claims(), signing_keys().private_key, algorithm="RS256")).caller.user_id == 7
    without = claims()
    del without["berth:principal"]
    token = jwt.encode(without, signing_keys().private_key, algorithm="RS256")
    with pytest.raises(InvalidToken, match="names no principal"):
        verify_token(token)


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

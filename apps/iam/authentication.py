"""Signing in as an IAM principal: who registry credentials (`/token`, `docker
login`) name, and the management API's authenticator for temporary credentials.

Temporary credentials (AssumeRole) are an access key id (`BSIA...`), a secret and
a session token. The API takes the first two as HTTP Basic plus the token in
`X-Berth-Security-Token` (AWS's X-Amz-Security-Token). The registry takes the key
id as user name and the session token as password, or `berth`/`AWS` and a login
password issued to the session."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password as check_hashed
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import BasicAuthentication

from apps.accounts import throttle

# The remembering of access key checks, shared so that temporary keys are remembered the same.
from apps.accounts.authentication import (
    _REMEMBER_SECONDS,
    LoginPasswordRefused,
    _remember_key,
    check_login_password,
    check_password,
    is_login_password_attempt,
    verify_login_password,
)
from apps.kernel import sealing
from apps.kernel.requests import client_ip

from . import selectors, session_tokens
from .callers import Caller
from .models import TEMPORARY_ACCESS_KEY_ID_PATTERN, RoleSession

_TEMPORARY_ACCESS_KEY_ID = re.compile(TEMPORARY_ACCESS_KEY_ID_PATTERN)
SECURITY_TOKEN_HEADER = "X-Berth-Security-Token"
REALM = "berth-api"


def is_temporary_access_key_id(text: str) -> bool:
    return bool(_TEMPORARY_ACCESS_KEY_ID.match(text))


def _session_for_token(access_key_id: str, session_token: str) -> RoleSession | None:
    """The live session this token was issued for, if it was issued for this key id."""
    try:
        claims = session_tokens.verify(session_token)
    except session_tokens.InvalidSessionToken:
        return None
    if claims.access_key_id != access_key_id:
        return None
    session = selectors.role_session(claims.session_id)
    if session is None or session.access_key_id != access_key_id:
        return None
    return session


def check_session_token(access_key_id: str, session_token: str, *, client_ip: str) -> RoleSession | None:
    """The session for a temporary key id and its session token (the registry's
    sign-in); None when they are wrong or the session ended. Raises
    throttle.Throttled while this key id is locked from this address."""
    return throttle.check(
        f"temporary-key:{access_key_id}", client_ip, lambda: _session_for_token(access_key_id, session_token)
    )


def check_temporary_credentials(
    access_key_id: str, secret: str, session_token: str, *, client_ip: str
) -> RoleSession | None:
    """The session for a full set of temporary credentials, None when any part is
    wrong or the session ended. A correct secret is remembered for a few minutes
    (its hash is deliberately slow), as access keys' are. Raises
    throttle.Throttled while this key id is locked from this address."""
    subject = f"temporary-key:{access_key_id}"
    throttle.refuse_when_locked(subject, client_ip)
    session = _session_for_token(access_key_id, session_token)
    if session is None:
        throttle.count_failure(subject, client_ip)
        return None
    remember_key = _remember_key(subject, secret)
    if cache.get(remember_key) != session.secret_hash:
        if not check_hashed(secret, session.secret_hash):
            throttle.count_failure(subject, client_ip)
            return None
        cache.set(remember_key, session.secret_hash, _REMEMBER_SECONDS)
    return session


def _session_login_password_caller(session_id: int, claims) -> Caller:
    session = selectors.role_session(session_id)
    if session is None or not claims.matches_credentials(session.secret_hash):
        raise LoginPasswordRefused("the login password's role session has ended; assume the role again")
    return selectors.caller_for_role_session(session, access_key_id=session.access_key_id)


def caller_from_registry_credentials(username: str, password: str, *, client_ip: str) -> Caller | None:
    """Who registry credentials sign in, None when they are wrong:

    - `berth` (or `AWS`) and a login password (a user's, or a role session's);
    - a temporary access key id and its session token;
    - a user's own name and password.

    Raises throttle.Throttled after too many failures, LoginPasswordRefused (with the
    reason) for an expired or revoked login password."""
    if is_login_password_attempt(username, password):
        claims = verify_login_password(password, client_ip=client_ip)
        if claims.session_id is not None:
            return _session_login_password_caller(claims.session_id, claims)
        user = check_login_password(password, client_ip=client_ip)
        return selectors.caller_for_user(user, access_key_id=claims.access_key_id)
    if is_temporary_access_key_id(username) and session_tokens.looks_like_session_token(password):
        session = check_session_token(username, password, client_ip=client_ip)
        if session is None:
            return None
        return selectors.caller_for_role_session(session, access_key_id=session.access_key_id)
    principal = check_password(username, password, client_ip=client_ip)
    if principal is None:
        return None
    user = get_user_model()._default_manager.get_by_natural_key(principal.username)
    return selectors.caller_for_user(user)


@dataclass(frozen=True)
class SessionUser:
    """request.user for a request signed with temporary credentials: authenticated,
    but no Django user (request.auth is the RoleSession)."""

    account_id: str
    role_name: str
    session_name: str
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False
    is_staff: bool = False
    is_superuser: bool = False
    pk: None = None

    def get_username(self) -> str:
        return f"{self.role_name}/{self.session_name}"

    def __str__(self) -> str:
        return self.get_username()


class TemporaryCredentialsAuthentication(BasicAuthentication):
    """HTTP Basic with a temporary access key id (BSIA...) and its secret, plus the
    session token in X-Berth-Security-Token. Any other Basic user name is left to
    AccessKeyAuthentication."""

    www_authenticate_realm = REALM

    def authenticate_credentials(self, userid, password, request=None):
        if not is_temporary_access_key_id(userid):
            return None
        session_token = request.META.get("HTTP_X_BERTH_SECURITY_TOKEN", "").strip() if request else ""
        if not session_token:
            raise exceptions.AuthenticationFailed(
                f"temporary credentials (BSIA...) need their session token in the {SECURITY_TOKEN_HEADER} header"
            )
        try:
            session = check_temporary_credentials(userid, password, session_token, client_ip=client_ip(request))
        except throttle.Throttled as exc:
            raise exceptions.Throttled(wait=exc.retry_after, detail=str(exc)) from None
        if session is None:
            raise exceptions.AuthenticationFailed(
                f"unknown or expired temporary credentials: a wrong secret, or a {SECURITY_TOKEN_HEADER} "
                "that does not belong to this access key or whose session has ended"
            )
        user = SessionUser(
            account_id=session.role.account_id, role_name=session.role.name, session_name=session.session_name
        )
        return user, session


class SessionCredentialsExpired(Exception):
    """Genuine temporary credentials whose session has ended."""


@dataclass(frozen=True)
class TemporarySigningKey:
    session: RoleSession
    secret: str


def temporary_signing_key(access_key_id: str, session_token: str) -> TemporarySigningKey | None:
    """The live role session a temporary key id and its session token name, with
    its secret (to verify an AWS signature); None when the token is not Berth's or
    names another key or a deleted session. Raises SessionCredentialsExpired when
    the token is genuine but past its expiry, or its session expired."""
    try:
        claims = session_tokens.verify(session_token)
    except session_tokens.InvalidSessionToken as exc:
        try:  # genuine but expired?
            claims = session_tokens.verify(session_token, now=0)
        except session_tokens.InvalidSessionToken:
            return None
        if claims.access_key_id == access_key_id:
            raise SessionCredentialsExpired(str(exc)) from None
        return None
    if claims.access_key_id != access_key_id:
        return None
    session = selectors.role_session(claims.session_id)
    if session is None or session.access_key_id != access_key_id:
        if RoleSession.objects.filter(pk=claims.session_id, access_key_id=access_key_id).exists():
            raise SessionCredentialsExpired("the role session has expired")
        return None
    if not session.secret_sealed:
        return None
    try:
        return TemporarySigningKey(session=session, secret=sealing.unseal(session.secret_sealed))
    except sealing.SealedValueUnreadable:
        return None

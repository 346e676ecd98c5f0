"""Whether the credential a caller signed in with still holds.

A registry token names its caller (apps.registry.tokens) and lives minutes; it must
die with the credential it was issued from, not only stop new sign-ins. So a
caller carries what its credential was:

- a user (signed in with a password, or with a login password, which is bound to
  the password): a fingerprint of the user's password hash (a password change
  gives a new one), and, when a login password minted with an access key signed in,
  that key's id;
- a role session: the session's row.

Each use of a token asks again: the user is still active, with the same password
hash (and the key still active), or the session still exists, unexpired; and the
caller's account is in good standing. The question is one scalar SQL subquery, so
the registry reads it in the query it runs anyway
(apps.repositories.selectors.find_repository); ``is_live`` asks it on its own."""

from __future__ import annotations

import hmac
from functools import lru_cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.crypto import salted_hmac

from apps.accounts.models import AccessKey, AccessKeyStatus, Account

from .callers import Caller
from .models import RoleSession

_FINGERPRINT_SALT = "berth.iam.credentials.password"


def fingerprint(password_hash: str) -> str:
    """What a token keeps of its user's password hash: enough to tell a change, nothing to crack."""
    return _fingerprint(password_hash, settings.SECRET_KEY)


# Every request of a pull asks again: a user's hash is fingerprinted once per process.
@lru_cache(maxsize=4096)
def _fingerprint(password_hash: str, secret: str) -> str:
    return salted_hmac(_FINGERPRINT_SALT, password_hash, secret, algorithm="sha256").hexdigest()[:32]


def _user_query(caller: Caller) -> tuple[str, list]:
    users = get_user_model()._meta.db_table
    if not caller.access_key_id:
        return f"SELECT u.password FROM {users} u WHERE u.id = %s AND u.is_active = %s", [caller.user_id, True]
    sql = (
        f"SELECT u.password FROM {users} u JOIN {AccessKey._meta.db_table} k ON k.user_id = u.id"
        " WHERE u.id = %s AND u.is_active = %s AND k.access_key_id = %s AND k.status = %s"
    )
    return sql, [caller.user_id, True, caller.access_key_id, AccessKeyStatus.ACTIVE.value]


def _session_query(caller: Caller) -> tuple[str, list]:
    sql = f"SELECT 1 FROM {RoleSession._meta.db_table} s WHERE s.id = %s AND s.expires_at > %s"
    return sql, [caller.role_session_id, connection.ops.adapt_datetimefield_value(timezone.now())]


def liveness_query(caller: Caller, *, account_read_too: bool = False) -> tuple[str, list] | None:
    """A scalar subquery (SQL and parameters) whose value ``holds`` judges; None for
    an anonymous caller, who has no credential to lose. ``account_read_too``: the
    query it joins reads the standing of the caller's own account already (the
    registry's look-up of one of its repositories), so the subquery leaves it out:
    every join and subquery costs the database a planning step on the hot path."""
    if caller.is_anonymous:
        return None
    sql, params = _session_query(caller) if caller.is_role_session else _user_query(caller)
    if not account_read_too:
        # A user's and a role session's account is the caller's, which the token names.
        sql += (
            f" AND NOT EXISTS (SELECT 1 FROM {Account._meta.db_table} a WHERE a.id = %s AND a.suspended_at IS NOT NULL)"
        )
        params = [*params, caller.account_id]
    return f"({sql})", params


def holds(caller: Caller, value) -> bool:
    """Whether the credential holds, given what its liveness_query selected."""
    if caller.is_anonymous:
        return True
    if value is None:
        return False
    if caller.is_role_session:
        return True
    return hmac.compare_digest(fingerprint(value), caller.credential)


def is_live(caller: Caller) -> bool:
    query = liveness_query(caller)
    if query is None:
        return True
    sql, params = query
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", params)
        (value,) = cursor.fetchone()
    return holds(caller, value)

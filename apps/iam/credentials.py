"""Whether the credential a caller signed in with still holds.

A registry token names its caller (apps.registry.tokens) and lives minutes; it must
die with the credential it was issued from, not only stop new sign-ins. So a
caller carries what its credential was:

- a user (signed in with a password, or with a login password, which is bound to
  the password): a fingerprint of the user's password hash (a password change
  gives a new one), and, when a login password minted with an access key signed in,
  that key's id;
- a role session: the session's row.

Each use of a token asks again: the user is still active, in an account in good
standing, with the same password hash (and the key still active); or the session
still exists, unexpired, in an account in good standing. The question is one
scalar SQL subquery, so the registry reads it in the query it runs anyway
(apps.repositories.selectors.find_repository); ``is_live`` asks it on its own."""
from __future__ import annotations

import hmac
from functools import lru_cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.crypto import salted_hmac

from apps.accounts.models import AccessKey, AccessKeyStatus, Account, Membership

from .callers import Caller
from .models import Role, RoleSession

_FINGERPRINT_SALT = "berth.iam.credentials.password"


def fingerprint(password_hash: str) -> str:
    """What a token keeps of its user's password hash: enough to tell a change, nothing to crack."""
    return _fingerprint(password_hash, settings.SECRET_KEY)


# Every request of a pull asks again: a user's hash is fingerprinted once per process.
@lru_cache(maxsize=4096)
def _fingerprint(password_hash: str, secret: str) -> str:
    return salted_hmac(_FINGERPRINT_SALT, password_hash, secret, algorithm="sha256").hexdigest()[:32]


def _user_query(caller: Caller) -> tuple[str, list]:
    users, memberships, accounts = get_user_model()._meta.db_table, Membership._meta.db_table, Account._meta.db_table
    sql = (
        f"SELECT u.password FROM {users} u"
        f" LEFT JOIN {memberships} m ON m.user_id = u.id LEFT JOIN {accounts} a ON a.id = m.account_id"
        " WHERE u.id = %s AND u.is_active = %s AND a.suspended_at IS NULL"
    )
    params: list = [caller.user_id, True]
    if caller.access_key_id:
        sql += (
            f" AND EXISTS (SELECT 1 FROM {AccessKey._meta.db_table} k"
            " WHERE k.user_id = u.id AND k.access_key_id = %s AND k.status = %s)"
        )
        params += [caller.access_key_id, AccessKeyStatus.ACTIVE.value]
    return sql, params


def _session_query(caller: Caller) -> tuple[str, list]:
    sessions, roles, accounts = RoleSession._meta.db_table, Role._meta.db_table, Account._meta.db_table
    sql = (
        f"SELECT 1 FROM {sessions} s JOIN {roles} r ON r.id = s.role_id JOIN {accounts} a ON a.id = r.account_id"
        " WHERE s.id = %s AND s.expires_at > %s AND a.suspended_at IS NULL"
    )
    return sql, [caller.role_session_id, connection.ops.adapt_datetimefield_value(timezone.now())]


def liveness_query(caller: Caller) -> tuple[str, list] | None:
    """A scalar subquery (SQL and parameters) whose value ``holds`` judges; None for
    an anonymous caller, who has no credential to lose."""
    if caller.is_anonymous:
        return None
    sql, params = _session_query(caller) if caller.is_role_session else _user_query(caller)
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

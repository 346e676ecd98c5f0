"""Password and access key checks, throttled (apps.accounts.throttle).

Django's password hash is deliberately slow (about half a second); registry
clients ask for a token for every repository they touch, API clients sign every
request with their access key. A successful check is remembered for a few minutes
under an HMAC of the credentials, and only while the stored hash is unchanged, so
a password change, a deactivated key or a deactivated user ends it.

A login password (apps.accounts.login_passwords) needs none of that: checking its
signature costs microseconds, so each use is checked afresh against the user's
row, and nothing is written."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.hashers import check_password as check_hashed
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from apps.kernel import sealing

from . import login_passwords, selectors, throttle
from .models import AccessKey, AccessKeyStatus, in_good_standing

_REMEMBER_SECONDS = 300
# What forged login passwords count against (per address only: every client shares it).
_FORGED_LOGIN_PASSWORD = "login-password"
# The user names a login password goes with at the registry: Berth's own, and Amazon
# ECR's (`docker login --username AWS`) so scripts written for ECR work unchanged.
LOGIN_PASSWORD_USERNAMES = ("berth", "AWS")
# last_used_at is a hint for people rotating keys, not an audit trail: one write a minute is enough.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    username: str
    account_id: str

    @property
    def is_anonymous(self) -> bool:
        return not self.username


ANONYMOUS = Principal(username="", account_id="")


def _remember_key(username: str, password: str) -> str:
    mac = hmac.new(settings.SECRET_KEY.encode(), f"{username}\0{password}".encode(), hashlib.sha256)
    return f"login-ok:{mac.hexdigest()}"


def principal_for(user) -> Principal:
    # A user outside any account (a staff operator) signs in but owns no repositories.
    membership = getattr(user, "membership", None)
    return Principal(username=user.get_username(), account_id=membership.account_id if membership else "")


def check_password(username: str, password: str, *, client_ip: str) -> Principal | None:
    """The principal for these credentials, None when they are wrong.

    Raises throttle.Throttled while this user name is locked from this address; the
    sign-in backend counts the failures."""
    username = selectors.stored_username(username)
    # Before the remembered success too: nothing signs in while locked.
    throttle.refuse_when_locked(throttle.user_subject(username), client_ip)

    User = get_user_model()
    remember_key = _remember_key(username, password)
    remembered = cache.get(remember_key)
    if remembered is not None:
        user = (
            User.objects.select_related("membership")
            .filter(in_good_standing(), pk=remembered["user_id"], is_active=True, password=remembered["password_hash"])
            .first()
        )
        if user is not None:
            return principal_for(user)

    user = authenticate(username=username, password=password, client_ip=client_ip)
    if user is None:
        return None
    cache.set(remember_key, {"user_id": user.pk, "password_hash": user.password}, _REMEMBER_SECONDS)
    return principal_for(User.objects.select_related("membership").get(pk=user.pk))


def _usable_key(access_key_id: str) -> AccessKey | None:
    """The active key ``access_key_id`` (with its user) of an active user in an
    account in good standing."""
    return (
        AccessKey.objects.select_related("user")
        .filter(
            in_good_standing("user__"), access_key_id=access_key_id, status=AccessKeyStatus.ACTIVE, user__is_active=True
        )
        .first()
    )


def check_access_key(access_key_id: str, secret: str, *, client_ip: str) -> AccessKey | None:
    """The active key (with its user) for this id and secret, None when they are
    wrong, the key is inactive, or its user is deactivated or in a suspended account.
    Records the use.

    Raises throttle.Throttled while this key id is locked from this address."""
    subject = f"access-key:{access_key_id}"
    throttle.refuse_when_locked(subject, client_ip)
    access_key = _usable_key(access_key_id)
    if access_key is None:
        throttle.count_failure(subject, client_ip)
        return None
    remember_key = _remember_key(subject, secret)
    if cache.get(remember_key) != access_key.secret_hash:
        if not check_hashed(secret, access_key.secret_hash):
            throttle.count_failure(subject, client_ip)
            return None
        cache.set(remember_key, access_key.secret_hash, _REMEMBER_SECONDS)
    _record_use(access_key)
    return access_key


def _record_use(access_key: AccessKey) -> None:
    now = timezone.now()
    stale = now - _LAST_USED_RESOLUTION
    if access_key.last_used_at is not None and access_key.last_used_at > stale:
        return
    AccessKey.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=access_key.pk).update(
        last_used_at=now
    )
    access_key.last_used_at = now


class LoginPasswordRefused(Exception):
    """A login password that signs nobody in; the message says why."""


def is_login_password_attempt(username: str, password: str) -> bool:
    """Whether registry credentials are a login password rather than a user's own
    password. The shape decides, so a user who happens to be named `berth` still
    signs in with their own password."""
    return username.lower() in {name.lower() for name in LOGIN_PASSWORD_USERNAMES} and (
        login_passwords.looks_like_login_password(password)
    )


def verify_login_password(password: str, *, client_ip: str) -> login_passwords.LoginPassword:
    """The claims of a genuine, unexpired login password (a user's or a role session's).

    Raises LoginPasswordRefused when it has expired or is not one Berth signed.
    Only the last kind counts as a failed sign-in, and raises throttle.Throttled after
    too many from this address: an expired one is genuine, only stale (a kubelet
    retrying a pull with last week's secret), and counting those would let one
    client lock every other client at its address out of the shared `berth` user name.
    For the same reason forgeries count per address only, never against the name."""
    try:
        return login_passwords.verify(password)
    except login_passwords.ExpiredLoginPassword:
        raise LoginPasswordRefused(
            "the login password has expired; get a new one (GetAuthorizationToken: POST /api/v1/authorization-token)"
        ) from None
    except login_passwords.InvalidLoginPassword:
        throttle.refuse_when_locked(_FORGED_LOGIN_PASSWORD, client_ip, per_subject=False)
        throttle.count_failure(_FORGED_LOGIN_PASSWORD, client_ip, per_subject=False)
        raise LoginPasswordRefused("not a valid login password") from None


def check_login_password(password: str, *, client_ip: str):
    """The active user a login password signs in, with their membership loaded.

    Raises LoginPasswordRefused as verify_login_password does, and when it was
    revoked (its user changed password or was deactivated, or the access key it was
    minted with is no longer active) or belongs to a role session (those sign in at
    the registry only: apps.iam.authentication)."""
    claims = verify_login_password(password, client_ip=client_ip)
    if claims.session_id is not None:
        raise LoginPasswordRefused(
            "a role session's login password signs in at the registry only; sign API requests with the "
            "session's temporary credentials"
        )
    users = get_user_model().objects.select_related("membership").filter(in_good_standing(), is_active=True)
    if claims.access_key_id:
        users = users.filter(
            access_keys__access_key_id=claims.access_key_id, access_keys__status=AccessKeyStatus.ACTIVE
        )
    user = users.filter(pk=claims.user_id).first()
    if user is None or not claims.matches_credentials(user.password):
        raise LoginPasswordRefused(
            "the login password was revoked: its user has changed password or been deactivated since, its "
            "account is suspended, or the access key it was got with has been deactivated or deleted"
        )
    return user


@dataclass(frozen=True)
class SigningKey:
    """An active access key and its secret, read back to verify an AWS signature."""

    access_key: AccessKey
    secret: str


class SigningKeyUnusable(Exception):
    """The key exists and is active, but cannot verify a signature (made before
    Berth kept secrets sealed, or sealed with a key no longer configured)."""


def signing_key(access_key_id: str) -> SigningKey | None:
    """The active key ``access_key_id`` of an active user in an account in good
    standing, with its secret; None when there is none. Raises SigningKeyUnusable
    for a key whose secret Berth cannot read back. The caller verifies the
    signature, counts a failure (throttle.count_failure with the subject
    ``access-key:<id>``) and, when it matches, calls ``record_use``."""
    access_key = _usable_key(access_key_id)
    if access_key is None:
        return None
    if not access_key.secret_sealed:
        raise SigningKeyUnusable(
            f"access key {access_key_id} was made before Berth verified AWS signatures, so its secret cannot sign "
            "requests; create a new access key"
        )
    try:
        return SigningKey(access_key=access_key, secret=sealing.unseal(access_key.secret_sealed))
    except sealing.SealedValueUnreadable as exc:
        raise SigningKeyUnusable(f"access key {access_key_id}: {exc}") from None


def record_use(access_key: AccessKey) -> None:
    """Note that ``access_key`` signed a request (its last-used time, to the hour)."""
    _record_use(access_key)

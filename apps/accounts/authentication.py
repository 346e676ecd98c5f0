"""Password checks for the token service, throttled per user and client address.

Django's password hash is deliberately slow (about half a second); registry
clients ask for a token for every repository they touch. A successful check is
remembered for a few minutes under an HMAC of the credentials, and only while the
stored password hash is unchanged, so a password change or deactivation ends it."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core.cache import cache

_REMEMBER_SECONDS = 300


@dataclass(frozen=True)
class Principal:
    username: str
    account_id: str

    @property
    def is_anonymous(self) -> bool:
        return not self.username


ANONYMOUS = Principal(username="", account_id="")


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed sign-ins; retry in {retry_after} s")


def _failure_key(username: str, client_ip: str) -> str:
    digest = hashlib.sha256(f"{username}\0{client_ip}".encode()).hexdigest()
    return f"login-failures:{digest}"


def _remember_key(username: str, password: str) -> str:
    mac = hmac.new(settings.SECRET_KEY.encode(), f"{username}\0{password}".encode(), hashlib.sha256)
    return f"login-ok:{mac.hexdigest()}"


def _principal_for(user) -> Principal:
    # A user outside any account (a staff operator) signs in but owns no repositories.
    membership = getattr(user, "membership", None)
    return Principal(username=user.get_username(), account_id=membership.account_id if membership else "")


def check_password(username: str, password: str, *, client_ip: str) -> Principal | None:
    """The principal for these credentials, None when they are wrong.

    Raises Throttled after too many failures for this username from this address."""
    failure_key = _failure_key(username, client_ip)
    failures = cache.get(failure_key, 0)
    if failures >= settings.BERTH_LOGIN_FAILURES_ALLOWED:
        raise Throttled(settings.BERTH_LOGIN_FAILURE_WINDOW)

    User = get_user_model()
    remember_key = _remember_key(username, password)
    remembered = cache.get(remember_key)
    if remembered is not None:
        user = (
            User.objects.select_related("membership")
            .filter(pk=remembered["user_id"], is_active=True, password=remembered["password_hash"])
            .first()
        )
        if user is not None:
            return _principal_for(user)

    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        try:
            cache.add(failure_key, 0, settings.BERTH_LOGIN_FAILURE_WINDOW)
            cache.incr(failure_key)
        except ValueError:
            cache.set(failure_key, 1, settings.BERTH_LOGIN_FAILURE_WINDOW)
        return None
    cache.set(remember_key, {"user_id": user.pk, "password_hash": user.password}, _REMEMBER_SECONDS)
    return _principal_for(User.objects.select_related("membership").get(pk=user.pk))

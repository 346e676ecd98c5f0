"""Every write to accounts, users, aliases and access keys, and the minting of login passwords."""
from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction

from . import login_passwords
from .models import MAX_ACTIVE_ACCESS_KEYS, AccessKey, AccessKeyStatus, Account, Alias, Membership

_ALIAS_FIRST = string.ascii_lowercase
_ALIAS_REST = string.ascii_lowercase + string.digits


def _new_account_id() -> str:
    # 12 digits, never starting with 0 so it survives tools that treat it as a number.
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def _new_default_alias() -> str:
    return secrets.choice(_ALIAS_FIRST) + "".join(secrets.choice(_ALIAS_REST) for _ in range(7))


def create_account(*, name: str, username: str, password: str, email: str = "", validate: bool = True) -> Account:
    """Create an account with a random 12-digit id and default alias, and its first user."""
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValueError(f"username {username!r} is taken")
    if validate:
        validate_password(password, User(username=username, email=email))
    for _ in range(20):
        try:
            with transaction.atomic():
                account = Account.objects.create(id=_new_account_id(), name=name)
                Alias.objects.create(name=_new_default_alias(), account=account, is_default=True, is_primary=True)
                user = User.objects.create_user(username=username, email=email, password=password)
                Membership.objects.create(user=user, account=account)
                return account
        except IntegrityError:
            if User.objects.filter(username=username).exists():
                raise ValueError(f"username {username!r} is taken") from None
            continue  # an id or alias collision: draw again
    raise RuntimeError("could not allocate a unique account id and alias")


def add_user(*, account: Account, username: str, password: str, email: str = "") -> None:
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.create_user(username=username, email=email, password=password)
        Membership.objects.create(user=user, account=account)


# -- access keys --------------------------------------------------------------------

_ACCESS_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits


class AccessKeyLimitExceeded(ValueError):
    pass


@dataclass(frozen=True)
class NewAccessKey:
    """A key just made: the only moment its secret is known."""

    access_key: AccessKey
    secret: str


def _new_access_key_id() -> str:
    return "BKIA" + "".join(secrets.choice(_ACCESS_KEY_ID_ALPHABET) for _ in range(16))


def _limit_exceeded() -> AccessKeyLimitExceeded:
    return AccessKeyLimitExceeded(
        f"a user may have at most {MAX_ACTIVE_ACCESS_KEYS} active access keys; deactivate or delete one first"
    )


def _free_slot(user) -> int:
    taken = set(AccessKey.objects.filter(user=user, active_slot__isnull=False).values_list("active_slot", flat=True))
    for slot in range(1, MAX_ACTIVE_ACCESS_KEYS + 1):
        if slot not in taken:
            return slot
    raise _limit_exceeded()


def create_access_key(*, user) -> NewAccessKey:
    """A new active key for ``user``; raises AccessKeyLimitExceeded when two are active.

    Two concurrent creations may pick the same free slot: the database refuses the
    second, which then looks again and finds the limit."""
    secret = secrets.token_urlsafe(30)
    secret_hash = make_password(secret)
    for _ in range(5):
        slot = _free_slot(user)
        try:
            with transaction.atomic():
                access_key = AccessKey.objects.create(
                    user=user, access_key_id=_new_access_key_id(), secret_hash=secret_hash, active_slot=slot
                )
        except IntegrityError:
            continue  # the slot was taken meanwhile (or, rarely, the id was drawn before)
        return NewAccessKey(access_key=access_key, secret=secret)
    raise _limit_exceeded()


def activate_access_key(*, access_key: AccessKey) -> AccessKey:
    if access_key.is_active:
        return access_key
    for _ in range(5):
        slot = _free_slot(access_key.user_id)
        try:
            with transaction.atomic():
                AccessKey.objects.filter(pk=access_key.pk).update(status=AccessKeyStatus.ACTIVE, active_slot=slot)
        except IntegrityError:
            continue
        access_key.status, access_key.active_slot = AccessKeyStatus.ACTIVE, slot
        return access_key
    raise _limit_exceeded()


def deactivate_access_key(*, access_key: AccessKey) -> AccessKey:
    AccessKey.objects.filter(pk=access_key.pk).update(status=AccessKeyStatus.INACTIVE, active_slot=None)
    access_key.status, access_key.active_slot = AccessKeyStatus.INACTIVE, None
    return access_key


def delete_access_key(*, access_key: AccessKey) -> None:
    access_key.delete()


# -- login passwords ------------------------------------------------------------------


def create_login_password(*, user) -> login_passwords.IssuedLoginPassword:
    """Amazon ECR's GetAuthorizationToken: a password for `docker login --username berth`,
    valid BERTH_LOGIN_PASSWORD_TTL seconds and until the user's password changes.

    Nothing is stored: the password carries its own signature and expiry."""
    return login_passwords.issue(user_id=user.pk, password_hash=user.password)

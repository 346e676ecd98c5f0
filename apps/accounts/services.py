"""Every write to accounts, users and aliases."""
from __future__ import annotations

import secrets
import string

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction

from .models import Account, Alias, Membership

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
                Alias.objects.create(name=_new_default_alias(), account=account, is_default=True)
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

"""Reads about repositories, including how a `<namespace>/<name>` resolves."""
from __future__ import annotations

import re
from dataclasses import dataclass

from apps.accounts.models import Account, Alias

from .models import Repository, Visibility

_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")


@dataclass(frozen=True)
class Address:
    """What `<namespace>/<name>` points at: an account, and whether through an alias."""

    full_name: str
    account: Account
    name: str
    via_alias: bool


def find_repository(full_name: str) -> Repository | None:
    """The repository `<namespace>/<name>` reaches, in one query: any repository of
    the account through its id, only public ones through an alias."""
    namespace, _, name = full_name.partition("/")
    if not name:
        return None
    repositories = Repository.objects.select_related("account").filter(name=name)
    if _ACCOUNT_ID.match(namespace):
        repositories = repositories.filter(account_id=namespace)
    else:
        repositories = repositories.filter(account__aliases__name=namespace, visibility=Visibility.PUBLIC)
    return next(iter(repositories[:1]), None)


def resolve_address(full_name: str) -> Address | None:
    """None when the namespace names no account (or the name has no namespace)."""
    namespace, _, name = full_name.partition("/")
    if not name:
        return None
    if _ACCOUNT_ID.match(namespace):
        account = Account.objects.filter(pk=namespace).first()
        via_alias = False
    else:
        alias = Alias.objects.select_related("account").filter(name=namespace).first()
        account = alias.account if alias else None
        via_alias = True
    if account is None:
        return None
    return Address(full_name=full_name, account=account, name=name, via_alias=via_alias)



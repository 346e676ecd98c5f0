"""Reads about repositories, including how a `<namespace>/<name>` resolves."""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection

from apps.accounts.models import Account, Alias

from .models import Repository, Visibility

_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
_REPOSITORY_FIELDS = Repository._meta.concrete_fields


@dataclass(frozen=True)
class Address:
    """What `<namespace>/<name>` points at: an account, and whether through an alias."""

    full_name: str
    account: Account
    name: str
    via_alias: bool


def find_repository(full_name: str) -> Repository | None:
    """The repository `<namespace>/<name>` reaches, in one query: any repository of
    the account through its id, only public ones through an alias.

    Every registry request starts here, so the SQL is written out: building it with
    the ORM cost more than running it."""
    namespace, _, name = full_name.partition("/")
    if not name:
        return None
    repositories = Repository._meta.db_table
    columns = ", ".join(f"r.{field.column}" for field in _REPOSITORY_FIELDS)
    if _ACCOUNT_ID.match(namespace):
        sql = f"SELECT {columns} FROM {repositories} r WHERE r.account_id = %s AND r.name = %s"
        params = [namespace, name]
    else:
        sql = (
            f"SELECT {columns} FROM {repositories} r JOIN {Alias._meta.db_table} a ON a.account_id = r.account_id"
            " WHERE a.name = %s AND r.name = %s AND r.visibility = %s"
        )
        params = [namespace, name, Visibility.PUBLIC.value]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return Repository.from_db(connection.alias, [f.attname for f in _REPOSITORY_FIELDS], row)


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



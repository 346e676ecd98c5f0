"""Reads about repositories, including how a `<namespace>/<name>` resolves."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection

from apps.accounts.models import ALIAS_PATTERN, Account, Alias

from .models import (
    REPOSITORY_NAME_MAX_LENGTH,
    REPOSITORY_NAME_PATTERN,
    ROOT_PREFIX,
    TEMPLATE_PREFIX_PATTERN,
    Repository,
    RepositoryCreationTemplate,
    RepositoryTag,
    Visibility,
)

_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
_NAME = re.compile(REPOSITORY_NAME_PATTERN)
_TEMPLATE_PREFIX = re.compile(TEMPLATE_PREFIX_PATTERN)
# An account id or an alias; anything else (a NUL byte, a space) names nothing.
_NAMESPACE = re.compile(r"[0-9]{12}|" + ALIAS_PATTERN.strip("^$"))
# What a registry request needs; the timestamps are left deferred (loaded if read), and a
# take-down is read as the flag ``taken_down``.
_REPOSITORY_FIELDS = [
    f
    for f in Repository._meta.concrete_fields
    if f.name not in ("created_at", "updated_at", "taken_down_at", "takedown_reason")
]
# Columns whose raw values need the ORM's converters (JSON text; SQLite's 0/1 booleans).
_CONVERTED_COLUMNS = [
    (index, field.get_col(Repository._meta.db_table))
    for index, field in enumerate(_REPOSITORY_FIELDS)
    if field.get_internal_type() in ("JSONField", "BooleanField")
]


ADDRESS_GRAMMAR = (
    "a repository is addressed as <account id or alias>/<name>, the name being lowercase letters and digits "
    "separated by '.', '_', '__' or '-', in components joined by '/', at most "
    f"{REPOSITORY_NAME_MAX_LENGTH} characters"
)


def is_address(full_name: str) -> bool:
    """Whether ``full_name`` fits ADDRESS_GRAMMAR. Nothing else names a repository,
    and nothing else may be looked up, or echoed in a header or the audit trail."""
    namespace, _, name = full_name.partition("/")
    return (
        0 < len(name) <= REPOSITORY_NAME_MAX_LENGTH
        and _NAME.fullmatch(name) is not None
        and _NAMESPACE.fullmatch(namespace) is not None
    )


@dataclass(frozen=True)
class Address:
    """What `<namespace>/<name>` points at: an account, and whether through an alias."""

    full_name: str
    account: Account
    name: str
    via_alias: bool


def find_repository(full_name: str, *, also_select: tuple[str, list] | None = None) -> Repository | None:
    """The repository `<namespace>/<name>` reaches, in one query: any repository of
    the account through its id, only public ones through an alias. The result's
    ``account_suspended`` says whether its account is suspended (nothing of it is
    then served), and ``taken_down`` whether staff took it down (no alias reaches it
    then, and it is not public: models.Repository.taken_down_at), read in the same
    query; so is ``also_select``, a scalar subquery
    (SQL and parameters) whose value lands in the result's ``also_selected`` (the
    registry asks whether the caller's credential still holds).

    Every registry request starts here, so the SQL is written out: building it with
    the ORM cost more than running it."""
    if not is_address(full_name):
        return None
    namespace, _, name = full_name.partition("/")
    repositories = Repository._meta.db_table
    also_sql, also_params = also_select or ("NULL", [])
    columns = (
        ", ".join(f"r.{field.column}" for field in _REPOSITORY_FIELDS)
        + f", r.taken_down_at IS NOT NULL, o.suspended_at, {also_sql}"
    )
    account = f"JOIN {Account._meta.db_table} o ON o.id = r.account_id"
    if _ACCOUNT_ID.fullmatch(namespace):
        sql = f"SELECT {columns} FROM {repositories} r {account} WHERE r.account_id = %s AND r.name = %s"
        params = [*also_params, namespace, name]
    else:
        sql = (
            f"SELECT {columns} FROM {repositories} r {account}"
            f" JOIN {Alias._meta.db_table} a ON a.account_id = r.account_id"
            " WHERE a.name = %s AND r.name = %s AND r.visibility = %s AND r.taken_down_at IS NULL"
        )
        params = [*also_params, namespace, name, Visibility.PUBLIC.value]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values, taken_down, suspended_at, also_selected = list(row[:-3]), row[-3], row[-2], row[-1]
    for index, column in _CONVERTED_COLUMNS:
        for converter in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
            values[index] = converter(values[index], column, connection)
    repository = Repository.from_db(connection.alias, [f.attname for f in _REPOSITORY_FIELDS], values)
    repository.account_suspended = suspended_at is not None
    repository.taken_down = bool(taken_down)
    repository.also_selected = also_selected
    return repository


def resolve_address(full_name: str) -> Address | None:
    """None when the namespace names no account (or the name has no namespace)."""
    namespace, _, name = full_name.partition("/")
    if not name or "\x00" in name or not _NAMESPACE.fullmatch(namespace):
        return None
    if _ACCOUNT_ID.fullmatch(namespace):
        account = Account.objects.filter(pk=namespace).first()
        via_alias = False
    else:
        alias = Alias.objects.select_related("account").filter(name=namespace).first()
        account = alias.account if alias else None
        via_alias = True
    if account is None:
        return None
    return Address(full_name=full_name, account=account, name=name, via_alias=via_alias)


def account_repository(account: Account, name: str) -> Repository | None:
    """The account's repository ``name`` (a name outside the grammar names none)."""
    if not _NAME.fullmatch(name):
        return None
    return Repository.objects.filter(account=account, name=name).first()


def resource_tags_of(repository: Repository) -> dict[str, str]:
    """The repository's resource tags (ECR's ListTagsForResource), by key."""
    return dict(RepositoryTag.objects.filter(repository=repository).order_by("key").values_list("key", "value"))


def registry_host(request) -> str:
    """The host clients put in image references: BERTH_PUBLIC_URL's, else the request's."""
    if settings.BERTH_PUBLIC_URL:
        public = urlsplit(settings.BERTH_PUBLIC_URL)
        return f"{public.netloc}{public.path}".rstrip("/")
    return request.get_host()


def repository_uri(repository: Repository, *, host: str, primary_alias: str) -> str:
    """Private repositories are reached through the account id, public ones through
    the account's primary alias (any of its aliases also reaches them)."""
    namespace = primary_alias if repository.is_public else repository.account_id
    return f"{host}/{namespace}/{repository.name}"


# -- repository creation templates -------------------------------------------------


def creation_templates(
    account: Account, *, prefixes: list[str] | None = None, after: str = "", limit: int | None = None
) -> list[RepositoryCreationTemplate]:
    """DescribeRepositoryCreationTemplates: the account's templates in the order of
    their prefixes, those after ``after`` (a page's last), at most ``limit``; only
    those of ``prefixes`` when given (ECR's assumed trailing `/` ignored)."""
    templates = RepositoryCreationTemplate.objects.filter(account=account, prefix__gt=after).order_by("prefix")
    if prefixes is not None:
        templates = templates.filter(prefix__in=[p.removesuffix("/") for p in prefixes])
    return list(templates if limit is None else templates[:limit])


def creation_template(account_id: str, prefix: str) -> RepositoryCreationTemplate | None:
    """The account's template for ``prefix`` (a prefix outside the grammar names none)."""
    prefix = prefix.removesuffix("/")
    if not _TEMPLATE_PREFIX.fullmatch(prefix):
        return None
    return RepositoryCreationTemplate.objects.filter(account_id=account_id, prefix=prefix).first()


def creation_template_for(account_id: str, name: str, applied_for: str) -> RepositoryCreationTemplate | None:
    """The template a repository ``name`` that Berth creates for ``applied_for``
    (REPLICATION, PULL_THROUGH_CACHE) takes: of those applied for it, the one whose
    prefix is the longest namespace of the name, else ROOT's, else none."""
    namespaces = [name[:index] for index, character in enumerate(name) if character == "/"]
    candidates = RepositoryCreationTemplate.objects.filter(account_id=account_id, prefix__in=[*namespaces, ROOT_PREFIX])
    applicable = [template for template in candidates if applied_for in template.applied_for]
    applicable.sort(key=lambda template: -1 if template.prefix == ROOT_PREFIX else len(template.prefix), reverse=True)
    return applicable[0] if applicable else None

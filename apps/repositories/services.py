"""Every write to repositories."""
from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from apps.accounts.models import Account

from .models import REPOSITORY_NAME_MAX_LENGTH, REPOSITORY_NAME_PATTERN, Repository, Visibility

_NAME = re.compile(REPOSITORY_NAME_PATTERN)


class RepositoryNameInvalid(ValueError):
    pass


class RepositoryExists(ValueError):
    pass


def validate_repository_name(name: str) -> None:
    if not name or len(name) > REPOSITORY_NAME_MAX_LENGTH or not _NAME.match(name):
        raise RepositoryNameInvalid(
            f"invalid repository name {name[:300]!r}: use lowercase letters, digits and separators "
            f"(., _, __, -), path components joined by '/', at most {REPOSITORY_NAME_MAX_LENGTH} characters"
        )


def create_repository(*, account: Account, name: str, visibility: str = Visibility.PRIVATE) -> Repository:
    validate_repository_name(name)
    if visibility not in Visibility.values:
        raise ValueError(f"visibility must be one of {', '.join(Visibility.values)}")
    try:
        with transaction.atomic():
            return Repository.objects.create(account=account, name=name, visibility=visibility)
    except IntegrityError as exc:
        raise RepositoryExists(f"repository {account.id}/{name} already exists") from exc


def get_or_create_on_push(*, account: Account, name: str) -> Repository:
    """The repository a member's push creates when the account allows it; safe under races."""
    validate_repository_name(name)
    repository, _ = Repository.objects.get_or_create(account=account, name=name)
    return repository

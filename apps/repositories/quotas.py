"""The repositories quota (docs/quotas.md): checked by the one place each repository is
made (services.create_repository, services.get_or_create_on_push), which every path
goes through: the management API, the console, the CLI, the AWS API, a push that
creates its repository, replication and the pull-through cache."""

from __future__ import annotations

from apps.accounts import quotas
from apps.accounts.models import Account

from .models import Repository


def check_repository_quota(account_id: str, *, name: str | None = None) -> None:
    """Raise QuotaExceeded when the account holds as many repositories as it may
    (unless it holds ``name`` already: a push that lost the race to create it). In
    the creating transaction: with a limit, the account's row is locked (FOR NO KEY
    UPDATE, which rows referencing the account do not wait for) until the creation
    commits, so two creations at the limit cannot both count room for themselves."""
    limit = quotas.limits_of(account_id).repositories
    if limit is None:
        return
    list(Account.objects.select_for_update(no_key=True).filter(pk=account_id).values_list("pk", flat=True))
    current = Repository.objects.filter(account_id=account_id).count()
    if current >= limit and not (name and Repository.objects.filter(account_id=account_id, name=name).exists()):
        raise quotas.QuotaExceeded(quota=quotas.REPOSITORIES, limit=limit, current=current, account_id=account_id)

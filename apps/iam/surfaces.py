"""What every surface (the management API, the console, the AWS wire API) does to
decide a request about an account's resources, in one place: find the account's
repository and start the request's audit event, authorize an action, keep the
repositories of a listing the caller may see. Each surface turns
``enforcement.NotAuthorized`` and a missing repository into its own refusal
(a 403 JSON body, a page, an AWS error)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from apps.accounts.models import Account
from apps.repositories import selectors as repository_selectors
from apps.repositories.models import REPOSITORY_NAME_MAX_LENGTH, Repository

from . import enforcement, policy
from .callers import Caller


@dataclass(frozen=True)
class AccountRequest:
    """A request of ``caller`` about ``account``'s resources (``account`` is None
    for a signed-in user outside every account). ``refusal`` makes the surface's own
    error of a policy's refusal (enforcement.NotAuthorized is raised as it is
    without one)."""

    request: Any
    caller: Caller
    account: Account | None
    refusal: Callable[[enforcement.NotAuthorized], Exception] | None = None

    def authorize(
        self,
        action: str,
        *,
        repository: Repository | None = None,
        resource_arn: str | None = None,
        also: Iterable[str] = (),
        outside_accounts_allowed: bool = False,
        **request_parameters,
    ) -> policy.Decision:
        """Decide ``action`` on ``repository`` (or the resource ``resource_arn``
        names; neither: ``*``) and the further actions ``also`` the request needs
        (enforcement.authorize): starts the audit event named after ``action``, and
        raises the surface's refusal when the policies refuse."""
        if repository is not None and self.account is not None and repository.account_id == self.account.pk:
            repository.account = self.account  # its suspension is then known without a query
        try:
            return enforcement.authorize(
                self.request,
                self.caller,
                action,
                repository=repository,
                resource_arn=resource_arn,
                also=also,
                outside_accounts_allowed=outside_accounts_allowed,
                **request_parameters,
            )
        except enforcement.NotAuthorized as refused:
            if self.refusal is None:
                raise
            raise self.refusal(refused) from None

    def begin_event(self, action: str, *, repository: str = "", **request_parameters):
        return enforcement.begin_event(
            self.request,
            self.caller,
            action,
            recipient_account_id=self.account.pk,
            repository=repository,
            **request_parameters,
        )

    def repository(self, name: str, *, action: str) -> Repository | None:
        """The account's repository ``name`` (None when it has none: never another
        account's). Starts the audit event of ``action`` first, so that a request
        for a missing repository is in the trail too."""
        repository = repository_selectors.account_repository(self.account, name)
        self.begin_event(
            action,
            repository=repository.name if repository else "",
            registryId=self.account.pk,
            repositoryName=name[:REPOSITORY_NAME_MAX_LENGTH],
        )
        if repository is not None:
            repository.account = self.account
        return repository

    def permitted(self, action: str, repositories: Iterable[Repository]) -> list[Repository]:
        """For a listing: start the audit event of ``action`` and keep the
        repositories the caller may do it on (the account's root: all of them)."""
        repositories = list(repositories)
        self.begin_event(action)
        for repository in repositories:
            repository.account = self.account
        return enforcement.permitted(self.caller, action, repositories, request=self.request)

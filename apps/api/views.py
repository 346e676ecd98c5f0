"""Plumbing the management API's views share.

Every handler decides its request with one call naming the ECR (or IAM, STS)
operation: ``self.authorize("ecr:DeleteRepository", repository=repository)``. It
starts the request's audit event, asks apps.iam.enforcement, and refuses with 403
``access_denied`` naming the action and the resource. A service that changes
state is given ``self.actor`` and ``self.context`` and records that event, in
the transaction of its change (apps.audit.services.record_change); the views
record nothing themselves."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission, IsAuthenticated
from rest_framework.views import APIView

from apps.accounts import selectors as account_selectors
from apps.accounts.models import AccessKey, Account
from apps.audit import events
from apps.iam import enforcement
from apps.iam import selectors as iam_selectors
from apps.iam.callers import ANONYMOUS, Caller
from apps.iam.models import RoleSession
from apps.iam.policy import Decision
from apps.iam.surfaces import AccountRequest
from apps.kernel.requests import RequestContext, request_context
from apps.repositories.models import Repository

from .exceptions import AccessDenied

# Raised by a write whose service recorded no audit event (the tests import it from here).
UnrecordedChange = events.UnrecordedChange


class PolicyAuthorizedView(APIView):
    """A view whose handlers authorize by policy: ``caller`` and ``authorize``.

    A request that may change state (any method but GET, HEAD, OPTIONS) runs in one
    transaction, which its audit event joins as the last write when it succeeds:
    the service that made the change recorded it. A successful write whose event
    no service recorded is a bug (events.require_recorded). An
    error response rolls everything back (its event is then recorded as a
    failure by apps.audit.middleware)."""

    def dispatch(self, request, *args, **kwargs):
        if request.method in SAFE_METHODS:
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            draft = events.current(request)
            if response.status_code >= 400:
                transaction.set_rollback(True)
            else:
                events.require_recorded(draft, surface="the management API")
        return response

    @cached_property
    def caller(self) -> Caller:
        """Who signs this request: an access key's user, a role session (temporary
        credentials), or a browser session's or login password's user."""
        auth, user = self.request.auth, self.request.user
        if isinstance(auth, RoleSession):
            return iam_selectors.caller_for_role_session(auth, access_key_id=auth.access_key_id)
        if not user or not user.is_authenticated:
            return ANONYMOUS
        if isinstance(auth, AccessKey):
            return iam_selectors.caller_for_user(user, access_key_id=auth.access_key_id)
        return iam_selectors.caller_for_user(user)

    @property
    def actor(self) -> events.Actor:
        """Who the audit trail names as making this request's changes."""
        return self.caller.actor()

    @property
    def context(self) -> RequestContext:
        return request_context(self.request)

    @cached_property
    def asking(self) -> AccountRequest:
        return AccountRequest(
            self.request, self.caller, self.account, refusal=lambda refused: AccessDenied(str(refused))
        )

    @property
    def account(self) -> Account | None:
        return None

    def authorize(self, action: str, **options) -> Decision:
        """Decide ``action`` on ``repository=`` (or the resource ``resource_arn=``
        names; neither: ``*``) and start the request's audit event, named after
        ``action``; raises 403 ``access_denied`` when the policies refuse it or any
        of the further actions ``also=`` the request needs (AccountRequest.authorize).
        A signed-in user outside every account manages its own credentials here."""
        return self.asking.authorize(action, outside_accounts_allowed=True, **options)

    def begin_event(self, action: str, *, recipient_account_id: str, repository: str = "", **request_parameters):
        """Start the request's audit event, named after ``action``."""
        return enforcement.begin_event(
            self.request,
            self.caller,
            action,
            recipient_account_id=recipient_account_id,
            repository=repository,
            **request_parameters,
        )


class IsAccountMember(BasePermission):
    """For an AccountScopedView: the user belongs to an account."""

    message = "this user belongs to no account, so it owns no repositories"

    def has_permission(self, request, view) -> bool:
        return view.account is not None


class AccountScopedView(PolicyAuthorizedView):
    """A view of what the signed-in user's account owns; nothing of another account
    is ever found (404, never 403)."""

    permission_classes = [IsAuthenticated, IsAccountMember]

    @cached_property
    def account(self) -> Account | None:
        if isinstance(self.request.auth, RoleSession):
            return self.request.auth.role.account
        return account_selectors.account_of(self.request.user)

    def repository_named(self, name: str, *, action: str) -> Repository:
        """The account's repository ``name``, or NotFound. Starts the request's audit
        event for ``action``, so that a request failing before ``authorize`` (a
        missing repository, invalid input) is in the trail too."""
        repository = self.asking.repository(name, action=action)
        if repository is None:
            raise NotFound(f"repository {name[:300]} does not exist in account {self.account.pk}")
        return repository

    def repository_arn(self, name: str, *, service: str = "ecr") -> str:
        """The ARN of the account's repository ``name``, existing or not (CreateRepository)."""
        return enforcement.repository_arn(self.account.pk, name, service=service)

    def authorize_each(self, action: str, repositories: Iterable[Repository]) -> list[Repository]:
        """For a listing: start the audit event of ``action`` and keep the
        repositories the caller may do it on (the account's root: all of them)."""
        return self.asking.permitted(action, repositories)


@extend_schema(exclude=True)
class UnknownEndpoint(APIView):
    """Any other path under /api/: a JSON 404 like every other API error."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise NotFound(f"no API endpoint at {request.path}")

"""Plumbing every page of the console (`/console/`) shares.

A console page is a ``ConsoleView``: a signed-in user of an account (staff
operators outside every account get a page saying so), its ``caller`` and
``account``, and one way to ask the policies, ``authorize(action, ...)``, the very
call the management API makes (apps.iam.enforcement.authorize), which also starts
the request's audit event. A refusal renders ``console/not_authorized.html``
(403) naming the missing permission; another account's repository is never found
(404, as on the API).

Writes (POST) run in one transaction: a service that changes state is handed
``self.actor`` and ``self.context`` and records its audit event in it, exactly as
behind the API; a write that succeeded without a recorded event is a bug
(apps.audit.events.require_recorded, the API's rule too). Forms are CSRF-protected
by Django's middleware; nothing here exempts them.

Views raise ``Refused`` / ``Http404`` and let ``dispatch`` render them, so a
handler reads as the API's do: find, authorize, call the service, redirect."""

from __future__ import annotations

from functools import cached_property

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.http import Http404
from django.shortcuts import render
from django.views import View

from apps.accounts import links
from apps.accounts import selectors as account_selectors
from apps.accounts.models import Account
from apps.audit import events
from apps.iam import enforcement
from apps.iam import selectors as iam_selectors
from apps.iam.callers import Caller
from apps.iam.policy import Decision
from apps.iam.surfaces import AccountRequest
from apps.kernel.requests import RequestContext, request_context
from apps.repositories import selectors as repository_selectors
from apps.repositories.models import REPOSITORY_NAME_MAX_LENGTH, Repository

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class Refused(Exception):
    """The policies refuse an action the page needs; rendered as a 403 page."""

    def __init__(self, refusal: enforcement.NotAuthorized) -> None:
        super().__init__(str(refusal))
        self.action = refusal.action
        self.resource_arn = refusal.resource_arn


class ConsoleView(LoginRequiredMixin, View):
    """A page of the signed-in user's account. Subclasses define ``get`` / ``post``
    and use ``caller``, ``account``, ``authorize``, ``repository_named`` and
    ``render``. ``section`` names the navigation entry the page belongs to."""

    section = ""
    template_name = ""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if self.account is None:
            return render(request, "console/no_account.html", status=404)
        try:
            if request.method in SAFE_METHODS:
                return super().dispatch(request, *args, **kwargs)
            with transaction.atomic():
                response = super().dispatch(request, *args, **kwargs)
                draft = events.current(request)
                if response.status_code >= 400:
                    transaction.set_rollback(True)
                else:
                    events.require_recorded(draft, surface="the console")
                return response
        except Refused as refusal:
            return self.refused(refusal)
        except Http404 as missing:
            return self.render({"message": str(missing)}, template_name="console/not_found.html", status=404)

    # --- who and where -------------------------------------------------------------

    @cached_property
    def account(self) -> Account | None:
        return account_selectors.account_of(self.request.user)

    @cached_property
    def primary_alias(self) -> str:
        """The account's primary alias (one query, once per request)."""
        return self.account.primary_alias

    @cached_property
    def caller(self) -> Caller:
        return iam_selectors.caller_for_user(self.request.user)

    @property
    def actor(self) -> events.Actor:
        return self.caller.actor()

    @property
    def context(self) -> RequestContext:
        return request_context(self.request)

    # --- asking the policies ---------------------------------------------------------

    @cached_property
    def asking(self) -> AccountRequest:
        return AccountRequest(self.request, self.caller, self.account, refusal=Refused)

    def authorize(self, action: str, **options) -> Decision:
        """As the API's ``authorize``: decide ``action`` (and ``also=``) and start the
        request's audit event named after it; ``Refused`` when the policies say no."""
        return self.asking.authorize(action, **options)

    def allowed(self, action: str, *, repository: Repository | None = None, resource_arn: str | None = None) -> bool:
        """Whether the caller may do ``action``, without starting an audit event: for
        showing or hiding a button (the action's own request authorizes again)."""
        if resource_arn is None and repository is not None:
            resource_arn = enforcement.repository_arn(repository.account_id, repository.name)
        return enforcement.decide(
            self.caller, action, resource_arn=resource_arn or "*", repository=repository, request=self.request
        ).allowed

    def permitted(self, action: str, repositories) -> list[Repository]:
        """For a listing: start the audit event of ``action`` and keep the
        repositories the caller may do it on (the account's root: all of them)."""
        return self.asking.permitted(action, repositories)

    def repository_named(self, name: str, *, action: str) -> Repository:
        """The account's repository ``name``, or Http404 (never another account's).
        Starts the audit event of ``action`` first, so a request for a missing
        repository is in the trail too, as on the API."""
        repository = self.asking.repository(name, action=action)
        if repository is None:
            raise Http404(f"There is no repository {name[:REPOSITORY_NAME_MAX_LENGTH]} in account {self.account.pk}.")
        return repository

    def repository_arn(self, name: str) -> str:
        return enforcement.repository_arn(self.account.pk, name)

    # --- answering -------------------------------------------------------------------

    def render(self, context: dict | None = None, *, template_name: str | None = None, status: int = 200):
        page = {
            "account": self.account,
            "primary_alias": self.primary_alias,
            "section": self.section,
            "host": repository_selectors.registry_host(self.request),
            # what the AWS CLI and SDKs take: the endpoint URL and the region signatures name
            "endpoint": links.site_url(self.request),
            "aws_region": settings.BERTH_REGION,
        }
        page.update(context or {})
        return render(self.request, template_name or self.template_name, page, status=status)

    def refused(self, refusal: Refused):
        context = {
            "action": refusal.action,
            "resource_arn": refusal.resource_arn,
            "caller_arn": self.caller.arn,
            "user_name": account_selectors.user_name_of(self.request.user),
        }
        return self.render(context, template_name="console/not_authorized.html", status=403)

    def done(self, text: str) -> None:
        """A message shown on the next page (after a write's redirect)."""
        messages.success(self.request, text)

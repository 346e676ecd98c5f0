"""Plumbing the management API's views share."""
from __future__ import annotations

from functools import cached_property

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.views import APIView

from apps.accounts import selectors as account_selectors
from apps.accounts.models import Account


class IsAccountMember(BasePermission):
    """For an AccountScopedView: the user belongs to an account."""

    message = "this user belongs to no account, so it owns no repositories"

    def has_permission(self, request, view) -> bool:
        return view.account is not None


class AccountScopedView(APIView):
    """A view of what the signed-in user's account owns; nothing of another account
    is ever found (404, never 403)."""

    permission_classes = [IsAuthenticated, IsAccountMember]

    @cached_property
    def account(self) -> Account | None:
        return account_selectors.account_of(self.request.user)


@extend_schema(exclude=True)
class UnknownEndpoint(APIView):
    """Any other path under /api/: a JSON 404 like every other API error."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise NotFound(f"no API endpoint at {request.path}")

"""Reads about users' credentials, and about accounts' aliases and alias requests."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet

from .models import AccessKey, Account, Alias, AliasRequest, AliasRequestEvent, AliasRequestStatus, Membership


def access_keys_of(user) -> QuerySet[AccessKey]:
    return AccessKey.objects.filter(user=user).order_by("created_at", "pk")


def access_key_of(user, access_key_id: str) -> AccessKey | None:
    """The user's own key; another user's key is as missing as one that never was."""
    return AccessKey.objects.filter(user=user, access_key_id=access_key_id).first()


def account_of(user) -> Account | None:
    """The account a user belongs to; None for a user outside any (a staff operator)."""
    if not user or not user.is_authenticated:
        return None
    membership = Membership.objects.select_related("account").filter(user=user).first()
    return membership.account if membership else None


def aliases_of(account: Account) -> QuerySet[Alias]:
    """The primary alias first, then the default, then the rest by name."""
    return Alias.objects.filter(account=account).order_by("-is_primary", "-is_default", "name")


def alias_requests_of(account: Account) -> QuerySet[AliasRequest]:
    """The account's alias requests, newest first, each with its history."""
    return (
        AliasRequest.objects.filter(account=account)
        .order_by("-created_at", "-pk")
        .prefetch_related(Prefetch("events", queryset=AliasRequestEvent.objects.order_by("created_at", "pk")))
    )


def pending_alias_requests() -> QuerySet[AliasRequest]:
    """What staff have to decide, oldest first."""
    return (
        AliasRequest.objects.filter(status=AliasRequestStatus.PENDING)
        .select_related("account")
        .order_by("created_at", "pk")
    )


def sign_in_username(name: str) -> str:
    """The user name a sign-in name stands for: the user of exactly that name, else
    the one user whose name differs from it only in case (sign-up keeps emails lower
    case; phones capitalise the first letter). Users that differ only in case (made
    on the command line) are each reached by their exact name only."""
    users = get_user_model().objects
    if users.filter(username=name).exists():
        return name
    matches = list(users.filter(username__iexact=name).values_list("username", flat=True)[:2])
    return matches[0] if len(matches) == 1 else name


def is_suspended_sign_in(username: str, password: str) -> bool:
    """Whether these are the right credentials of a user whose account is suspended
    (the sign-in backend refuses those the same way as wrong ones)."""
    user = (
        get_user_model()
        .objects.select_related("membership__account")
        .filter(username=sign_in_username(username))
        .first()
    )
    membership = getattr(user, "membership", None)
    return bool(membership and membership.account.is_suspended and user.check_password(password))

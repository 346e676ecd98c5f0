"""Reads about users' credentials."""
from __future__ import annotations

from django.db.models import QuerySet

from .models import AccessKey, Account, Membership


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

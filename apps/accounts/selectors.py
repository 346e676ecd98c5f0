"""Reads about users (who a sign-in name names, how a user is named to people) and
their credentials, and about accounts' aliases and alias requests."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q, QuerySet

from apps.audit.events import Actor, ActorType
from apps.kernel.arn import account_root_arn, user_arn

from .models import (
    ACCOUNT_ID_PATTERN,
    SIGN_IN_NAME_SEPARATOR,
    AccessKey,
    Account,
    Alias,
    AliasRequest,
    AliasRequestEvent,
    AliasRequestStatus,
    Membership,
)

_ACCOUNT_ID = re.compile(ACCOUNT_ID_PATTERN)


def user_for_sign_in(sign_in_name: str):
    """The user a sign-in name names, with its membership and account loaded; None
    when it names no one.

    An IAM user signs in as ``<account-id>/<name>`` or ``<alias>/<name>`` (aliases
    are never all digits; the name and the alias are matched ignoring case, as they
    are unique that way); a root user or a staff operator by its own user name,
    which holds no ``/`` (one made before that rule still signs in with it), in any
    case when no other such user differs from it only in case."""
    users = get_user_model()._default_manager.select_related("membership__account")
    account_part, separator, user_name = sign_in_name.partition(SIGN_IN_NAME_SEPARATOR)
    if separator and user_name:
        if _ACCOUNT_ID.fullmatch(account_part):
            in_account = Q(membership__account_id=account_part)
        else:
            in_account = Q(membership__account__aliases__name=account_part.lower())
        iam_user = users.filter(
            in_account, membership__user_name__lower=user_name.lower(), iam_root__isnull=True
        ).first()
        if iam_user is not None:
            return iam_user
    not_an_iam_user = users.filter(Q(membership__isnull=True) | Q(iam_root__isnull=False))
    exact = not_an_iam_user.filter(username=sign_in_name).first()
    if exact is not None:
        return exact
    # Sign-up keeps e-mails lower case and phones capitalise the first letter; users
    # that differ only in case (made on the command line) are reached by their exact name only.
    matches = list(not_an_iam_user.filter(username__iexact=sign_in_name)[:2])
    return matches[0] if len(matches) == 1 else None


def stored_username(sign_in_name: str) -> str:
    """The Django username of the user a sign-in name names (what the password check
    and its throttle key on); the sign-in name itself when it names no one."""
    user = user_for_sign_in(sign_in_name)
    return user.get_username() if user is not None else sign_in_name


def user_name_of(user) -> str:
    """How people are shown a user: an account member by its name in the account (an
    IAM user's name, the root's own user name), a staff operator by its user name."""
    membership = getattr(user, "membership", None)
    return membership.user_name if membership is not None else user.get_username()


def audit_actor_of(user) -> Actor:
    """How the audit trail names a signed-in user: the account's root or an IAM user,
    as apps.iam.callers names them; a staff operator (outside any account) as an IAM
    user of no account, by user name."""
    row = Membership.objects.filter(user_id=user.pk).values_list("account_id", "user__iam_root", "user_name").first()
    if row is None:
        return Actor(type=ActorType.IAM_USER, username=user.get_username())
    account_id, root_id, user_name = row
    partition = settings.BERTH_ARN_PARTITION
    if root_id is not None:
        arn, kind = account_root_arn(account_id, partition=partition), ActorType.ROOT
    else:
        arn, kind = user_arn(account_id, user_name, partition=partition), ActorType.IAM_USER
    return Actor(type=kind, arn=arn, account_id=account_id, username=user_name)


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


def is_suspended_sign_in(username: str, password: str) -> bool:
    """Whether these are the right credentials of a user whose account is suspended
    (the sign-in backend refuses those the same way as wrong ones)."""
    user = user_for_sign_in(username)
    membership = getattr(user, "membership", None)
    return bool(membership and membership.account.is_suspended and user.check_password(password))

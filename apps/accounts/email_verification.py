"""Showing that an account's email reaches its owner: sign-up mails a link, and
following it marks the account's email verified; until then the account works but
may not ask for a custom alias (services.validate_custom_alias).

The link carries a signed token (signed_tokens: `bev.<claims>.<mac>`) naming the
account, its root user and the email it was sent to, valid
VERIFICATION_LINK_TTL seconds. It is refused once the user's email is no longer
the one it was sent to, so a link mailed to an old address verifies nothing. Links
are built from BERTH_PUBLIC_URL (links.py), never from a request's Host header.
Like sign-up and password reset, this is no audit event: nothing in the trail's
accounts changes but the proof of a mailbox."""

from __future__ import annotations

import logging
import smtplib
import time
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from . import links, signed_tokens, throttle
from .models import Account, RootUser

logger = logging.getLogger(__name__)

VERIFICATION_LINK_TTL = 3 * 24 * 3600
_PREFIX = "bev"
_SALT = "apps.accounts.email_verification"
_MAX_TOKEN_LENGTH = 600


class VerificationLinkInvalid(ValueError):
    """The link is not one Berth mailed, has expired, or names an email the user no longer has."""


@dataclass(frozen=True)
class Verified:
    account: Account
    user_id: int
    already: bool  # the email was verified before this link was followed


def root_user_of(account: Account):
    """The user whose email the account's verification is about: its root user."""
    return RootUser.objects.select_related("user").get(account=account).user


def make_token(account: Account, user, *, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims = {"a": account.pk, "u": user.pk, "e": user.email.lower(), "x": issued + VERIFICATION_LINK_TTL}
    return signed_tokens.sign(claims, prefix=_PREFIX, salt=_SALT)


def verification_link(site_url: str, account: Account, user) -> str:
    return links.mailed_link(site_url, reverse("accounts:verify_email", args=[make_token(account, user)]))


def send_link(*, account: Account, site_url: str) -> bool:
    """Mail the root user a verification link (to ``site_url``, a links.site_url).
    False when there is no email to mail or the mail server refused it (logged):
    the owner can have it sent again from the settings page."""
    user = root_user_of(account)
    if not user.email:
        return False
    context = {
        "account": account,
        "link": verification_link(site_url, account, user),
        "hours": VERIFICATION_LINK_TTL // 3600,
    }
    try:
        send_mail(
            subject=render_to_string("accounts/email/verify_email_subject.txt", context).strip(),
            message=render_to_string("accounts/email/verify_email.txt", context),
            from_email=None,
            recipient_list=[user.email],
        )
    except (OSError, smtplib.SMTPException) as error:
        logger.warning("could not mail the verification link of account %s: %s", account.pk, error)
        return False
    return True


def resend_link(*, account: Account, site_url: str) -> bool:
    """The settings page's resend button: raises throttle.Throttled when the account
    asked a moment ago or too often this hour; else send_link's answer."""
    throttle.count_verification_mail(account.pk)
    return send_link(account=account, site_url=site_url)


def verify(token: str, *, now: float | None = None) -> Verified:
    """Mark the email the link was mailed to verified; raises VerificationLinkInvalid."""
    try:
        claims = signed_tokens.unsign(
            token, prefix=_PREFIX, salt=_SALT, max_length=_MAX_TOKEN_LENGTH, noun="verification link"
        )
    except signed_tokens.InvalidSignedToken as error:
        raise VerificationLinkInvalid(str(error)) from None
    try:
        account_id, user_id, email, expires = str(claims["a"]), int(claims["u"]), str(claims["e"]), int(claims["x"])
    except (KeyError, TypeError, ValueError):
        raise VerificationLinkInvalid("malformed verification link") from None
    if (time.time() if now is None else now) > expires:
        raise VerificationLinkInvalid("this verification link has expired: have a new one sent from your settings page")
    user = get_user_model()._default_manager.filter(pk=user_id, iam_root__account_id=account_id).first()
    if user is None or user.email.lower() != email:
        raise VerificationLinkInvalid("this verification link is for an email the account no longer has")
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account_id)
        already = account.email_verified_at is not None
        if not already:
            account.email_verified_at = timezone.now()
            account.save(update_fields=["email_verified_at"])
    return Verified(account=account, user_id=user_id, already=already)

"""Mails to an account's owner about what staff did to it or its repositories
(suspension, reinstatement, the verified badge, a repository taken down or
restored). Alias decisions have their own (services.tell_requester, after the
alias_request.decided event).

A notice is sent once the change has committed (never for a change rolled back),
from the staff member's request. A mail server that refuses it is logged, not
raised: the change stands, and the trail records it either way."""

from __future__ import annotations

import logging
import smtplib
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from . import links
from .models import Membership, RootUser

logger = logging.getLogger(__name__)


def owner_emails(account_id: str) -> list[str]:
    """The root user's email; an account whose root has none, its members' emails."""
    root = RootUser.objects.filter(account_id=account_id).exclude(user__email="").values_list("user__email", flat=True)
    emails = list(root)
    if emails:
        return emails
    members = Membership.objects.filter(account_id=account_id).exclude(user__email="")
    return sorted(set(members.values_list("user__email", flat=True)))


def mail_owner(*, account_id: str, notice: str, site_url: str | None = None, **context) -> None:
    """After the caller's transaction commits, mail the owner of ``account_id`` the
    notice ``templates/accounts/email/<notice>.txt`` (and ``<notice>_subject.txt``),
    with ``context`` and links to ``site_url`` (links.site_url; None: BERTH_PUBLIC_URL,
    and no links when that is unset too)."""
    site_url = site_url or settings.BERTH_PUBLIC_URL

    def send() -> None:
        recipients = owner_emails(account_id)
        if not recipients:
            return
        full = {
            **context,
            "account_id": account_id,
            "registry_host": urlsplit(site_url).netloc if site_url else "",
            "settings_url": links.mailed_link(site_url, reverse("accounts:settings")) if site_url else "",
        }
        try:
            send_mail(
                subject=render_to_string(f"accounts/email/{notice}_subject.txt", full).strip(),
                message=render_to_string(f"accounts/email/{notice}.txt", full),
                from_email=None,
                recipient_list=recipients,
            )
        except (OSError, smtplib.SMTPException) as error:
            logger.warning("could not mail account %s its %s notice: %s", account_id, notice, error)

    transaction.on_commit(send)

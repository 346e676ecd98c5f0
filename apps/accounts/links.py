"""The links Berth mails (password resets, alias decisions): absolute, and built
from BERTH_PUBLIC_URL, never from what a request claims to be its host. A reset
link built from the `Host` header would let anyone have Berth mail a victim a
genuine reset token pointing at another site."""

from __future__ import annotations

from django.conf import settings


def site_url(request) -> str:
    """Where people reach this Berth: BERTH_PUBLIC_URL; unset (the laptop default),
    the request's own scheme and host, which ALLOWED_HOSTS vouches for."""
    return settings.BERTH_PUBLIC_URL or f"{request.scheme}://{request.get_host()}"


def mailed_link(site: str, path: str) -> str:
    """The absolute link to ``path`` (``/accounts/settings``) on ``site`` (a site_url)."""
    return f"{site.rstrip('/')}{path}"

"""What the admin index shows first: the alias requests waiting for staff."""

from django import template

from apps.accounts import selectors

register = template.Library()

SHOWN_ON_INDEX = 10


@register.simple_tag
def pending_alias_requests() -> dict:
    pending = selectors.pending_alias_requests()
    return {"count": pending.count(), "oldest": list(pending[:SHOWN_ON_INDEX])}

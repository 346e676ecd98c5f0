"""The accounts app's reactions to domain events (subscribed in AccountsConfig.ready)."""

from __future__ import annotations

from apps.events.models import DomainEvent

from . import services
from .models import AliasRequest


def tell_requester(event: DomainEvent) -> None:
    """alias_request.decided: the requester is mailed the decision. Delivered at
    least once: a process killed between the mail and its delivery note mails again."""
    alias_request = (
        AliasRequest.objects.select_related("requested_by").filter(pk=event.payload["aliasRequestId"]).first()
    )
    if alias_request is not None:
        services.tell_requester(alias_request, site_url=event.payload["siteUrl"])

"""Reads of the trail: LookupEvents over what an account may see, and the
questions people ask most (who pulled this image, what did this principal pull,
where has this tag pointed).

An account sees the events about its resources (it is the recipient) and the
events its own principals caused anywhere (it is the actor's account); never
another account's events about another account."""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
from dataclasses import asdict, dataclass
from datetime import datetime

from django.core import signing
from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils.dateparse import parse_datetime

from apps.kernel.requests import address_group

from .chain import iso_time
from .models import Event

_PAGE_TOKEN_SALT = "berth.audit.lookup"
# The events a pull is recorded as: a manifest GET on /v2/ and the API's BatchGetImage.
PULL_EVENT_NAMES = ("BatchGetImage",)
PUT_IMAGE_EVENT_NAME = "PutImage"
# Where a PutImage event's response elements name the digest the tag pointed at before.
PREVIOUS_DIGEST_KEY = "previousImageDigest"


class PageTokenInvalid(ValueError):
    pass


@dataclass(frozen=True)
class EventFilters:
    """LookupEvents' filters; an empty value filters nothing."""

    event_name: str = ""
    principal: str = ""  # an actor ARN, user name or access key id
    repository: str = ""
    digest: str = ""
    tag: str = ""
    source_ip: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    read_only: bool | None = None
    errors_only: bool = False  # only the events that failed (an errorCode)

    def fingerprint(self) -> str:
        """Names this set of filters in a page token, so a token only continues its own listing."""
        values = {key: iso_time(value) if isinstance(value, datetime) else value for key, value in asdict(self).items()}
        if not values["errors_only"]:
            del values["errors_only"]  # the tokens handed out before the filter existed still hold
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def visible_events(account_id: str) -> QuerySet[Event]:
    return Event.objects.filter(Q(recipient_account_id=account_id) | Q(actor_account_id=account_id))


def _principal(principal: str) -> Q:
    return Q(actor_arn=principal) | Q(actor_username=principal) | Q(actor_access_key_id=principal)


def _filtered(events: QuerySet[Event], filters: EventFilters) -> QuerySet[Event]:
    if filters.event_name:
        events = events.filter(event_name=filters.event_name)
    if filters.principal:
        events = events.filter(_principal(filters.principal))
    if filters.repository:
        events = events.filter(repository=filters.repository)
    if filters.digest:
        events = events.filter(image_digest=filters.digest)
    if filters.tag:
        events = events.filter(image_tag=filters.tag)
    if filters.source_ip:
        # An IPv6 address's failures beyond the first few are counted under its /64.
        events = events.filter(source_ip__in={filters.source_ip, address_group(filters.source_ip)})
    if filters.start_time is not None:
        events = events.filter(event_time__gte=filters.start_time)
    if filters.end_time is not None:
        events = events.filter(event_time__lte=filters.end_time)
    if filters.read_only is not None:
        events = events.filter(read_only=filters.read_only)
    if filters.errors_only:
        events = events.exclude(error_code="")
    return events.order_by("-event_time", "-sequence")


def filtered_events(account_id: str, filters: EventFilters) -> QuerySet[Event]:
    """The account's events that pass ``filters``, newest first."""
    return _filtered(visible_events(account_id), filters)


def _newest(event: Event) -> tuple:
    return event.event_time, event.sequence


def lookup_events(
    account_id: str, filters: EventFilters, *, max_results: int, next_token: str | None = None
) -> tuple[list[Event], str | None]:
    """CloudTrail's LookupEvents: a page of the account's events that pass
    ``filters``, newest first, and the token of the next page (None on the last).

    The two halves of what an account sees (events about its resources, events its
    principals caused elsewhere) are read apart, each newest first down its own
    index and only as far as one page, and merged: an OR of the two would make the
    database gather and sort every visible event for every page."""
    halves = [
        Event.objects.filter(recipient_account_id=account_id),
        Event.objects.filter(actor_account_id=account_id).exclude(recipient_account_id=account_id),
    ]
    if next_token:
        before_time, before_sequence = _page_after(account_id, filters, next_token)
        older = Q(event_time__lt=before_time) | Q(event_time=before_time, sequence__lt=before_sequence)
        halves = [half.filter(older) for half in halves]
    merged = heapq.merge(
        *(list(_filtered(half, filters)[: max_results + 1]) for half in halves), key=_newest, reverse=True
    )
    page = list(itertools.islice(merged, max_results + 1))
    if len(page) <= max_results:
        return page, None
    page = page[:max_results]
    last = page[-1]
    token = signing.dumps(
        {"account": account_id, "filters": filters.fingerprint(), "before": [iso_time(last.event_time), last.sequence]},
        salt=_PAGE_TOKEN_SALT,
    )
    return page, token


def _page_after(account_id: str, filters: EventFilters, token: str) -> tuple[datetime, int]:
    try:
        page = signing.loads(token, salt=_PAGE_TOKEN_SALT)
    except signing.BadSignature:
        raise PageTokenInvalid("the next token is not one this API handed out") from None
    if page.get("account") != account_id or page.get("filters") != filters.fingerprint():
        raise PageTokenInvalid("the next token belongs to another listing: pass the same filters with it")
    before_time, before_sequence = page["before"]
    return parse_datetime(before_time), int(before_sequence)


def iter_events(account_id: str, filters: EventFilters, *, chunk_size: int = 1000):
    """Every event ``lookup_events`` would page through, for an export."""
    return filtered_events(account_id, filters).iterator(chunk_size=chunk_size)


def _pulls(account_id: str) -> QuerySet[Event]:
    return visible_events(account_id).filter(event_name__in=PULL_EVENT_NAMES, error_code="")


def pulls_of_image(account_id: str, repository: str, digest: str, *, limit: int = 1000) -> list[dict]:
    """Who pulled the image ``digest`` of the account's ``repository``, and from
    where: one row per (principal, source address) with the number of pulls and
    the first and last, most recent first."""
    rows = (
        _pulls(account_id)
        .filter(recipient_account_id=account_id, repository=repository, image_digest=digest)
        .values("actor_type", "actor_arn", "actor_account_id", "source_ip")
        .annotate(pulls=Count("id"), first_pull=Min("event_time"), last_pull=Max("event_time"))
        .order_by("-last_pull", "actor_arn", "source_ip")
    )
    return list(rows[:limit])


def pulls_by_principal(account_id: str, principal: str, *, limit: int = 1000) -> list[dict]:
    """What ``principal`` (an ARN, user name or access key id) pulled, of what the
    account may see: one row per image with the number of pulls, the first and
    the last, most recent first."""
    rows = (
        _pulls(account_id)
        .filter(_principal(principal))
        .values("recipient_account_id", "repository", "image_digest")
        .annotate(pulls=Count("id"), first_pull=Min("event_time"), last_pull=Max("event_time"))
        .order_by("-last_pull", "repository", "image_digest")
    )
    return list(rows[:limit])


def tag_history(account_id: str, repository: str, tag: str, *, limit: int = 1000) -> list[Event]:
    """The PutImage events that moved ``tag`` of the account's ``repository``,
    newest first; ``previous_digest`` says where each one moved it from."""
    return list(
        Event.objects.filter(
            recipient_account_id=account_id,
            repository=repository,
            event_name=PUT_IMAGE_EVENT_NAME,
            image_tag=tag,
            error_code="",
        ).order_by("-event_time", "-sequence")[:limit]
    )


def previous_digest(event: Event) -> str | None:
    """The digest a PutImage event's tag pointed at before (None for a new tag)."""
    elements = event.response_elements or {}
    found = elements.get(PREVIOUS_DIGEST_KEY)
    if found is None and isinstance(elements.get("image"), dict):
        found = elements["image"].get(PREVIOUS_DIGEST_KEY)
    return found or None


def visible_event(account_id: str, event_id) -> Event | None:
    """The event ``event_id`` when the account may see it (about its resources, or
    caused by its principals); None otherwise, another account's events included."""
    return visible_events(account_id).filter(event_id=event_id).first()

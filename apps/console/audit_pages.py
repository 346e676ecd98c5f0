"""The console's audit trail (section "audit"): the account's events, newest first,
a page at a time, filtered as LookupEvents filters them; one event's CloudTrail
record and its place in the hash chain; the chain's latest verification and a
"Verify now" that queues one.

Every page is CloudTrail's LookupEvents for IAM (``cloudtrail:LookupEvents``, as
the API's apps/api/audit/views.py authorizes each read) over the same selectors:
an account sees the events about its resources and those its principals caused,
never another account's (another account's event is a 404).

The whole chain is never walked in a page view (10,000 events take 0.3 s on
SQLite, 0.6 s on PostgreSQL, and a trail holds every pull): the page shows the
latest walk (apps.audit.verification) and checks the rows it shows, each one's
hash recomputed and its link to the event before it, in one more query."""

from __future__ import annotations

import json
import uuid

from django.db import transaction
from django.http import Http404, HttpResponseRedirect, QueryDict
from django.urls import path
from django.utils.dateparse import parse_datetime

from apps.audit import chain, selectors, tasks, verification
from apps.audit.models import GENESIS_HASH, Event, PruneRecord
from apps.audit.records import to_record

from .audit_forms import EventFilterForm
from .base import ConsoleView

LOOKUP = "cloudtrail:LookupEvents"
PAGE_SIZE = 50


class AuditPage(ConsoleView):
    section = "audit"

    def authorize_lookup(self) -> None:
        """Every audit read is CloudTrail's LookupEvents (and is itself recorded as one)."""
        self.authorize(LOOKUP)

    def verification(self) -> dict:
        """The latest walk of the chain, told as this account may see it."""
        report = verification.latest()
        pending = verification.pending()
        state = {"report": report, "pending": parse_datetime(pending) if pending else None, "broken_here": None}
        if report:
            for key in ("started_at", "finished_at"):
                report[key] = parse_datetime(report[key])
            broken = report.get("broken")
            if broken and broken["event_id"] != "-":
                # the detail only for an event the account may see (the rest is another account's)
                state["broken_here"] = selectors.visible_event(self.account.pk, broken["event_id"])
        return state


def _links(events: list[Event]) -> dict[int, str]:
    """sequence -> hash of the event before each of ``events`` (one query); the event
    before the first kept after a prune is the prune record's last removed hash."""
    wanted = {event.sequence - 1 for event in events if event.sequence > 1}
    found = dict(Event.objects.filter(sequence__in=wanted).values_list("sequence", "hash")) if wanted else {}
    if wanted - set(found):
        for prune in PruneRecord.objects.filter(through_sequence__in=wanted - set(found)):
            found[prune.through_sequence] = prune.last_removed_hash
    found[0] = GENESIS_HASH
    return found


def _checked(event: Event, previous_hashes: dict[int, str]) -> dict:
    """What the chain says of one event: its hash recomputed, its link to the one before."""
    before = previous_hashes.get(event.sequence - 1)
    return {
        "hash_holds": chain.event_hash(event) == event.hash,
        "link_holds": before is not None and before == event.previous_hash,
        "before_missing": before is None,
    }


class EventList(AuditPage):
    template_name = "console/audit/list.html"

    def get(self, request):
        form = EventFilterForm(request.GET)
        self.authorize_lookup()
        if not form.is_valid():
            return self.render({"form": form, "events": [], "state": self.verification()}, status=400)
        filters = form.filters()
        try:
            page, next_token = selectors.lookup_events(
                self.account.pk, filters, max_results=PAGE_SIZE, next_token=request.GET.get("next") or None
            )
        except selectors.PageTokenInvalid as error:
            form.add_error(None, f"{error}: start again from the newest events.")
            return self.render({"form": form, "events": [], "state": self.verification()}, status=400)
        previous_hashes = _links(page)
        rows = [{"event": event, **_checked(event, previous_hashes)} for event in page]
        return self.render(
            {
                "form": form,
                "events": rows,
                "next_url": _with(request.GET, next=next_token) if next_token else "",
                "first_url": _with(request.GET, next=None) if request.GET.get("next") else "",
                "filtered": any(value for key, value in request.GET.items() if key != "next"),
                "state": self.verification(),
                "page_size": PAGE_SIZE,
            }
        )


def _with(query: QueryDict, **changes) -> str:
    changed = query.copy()
    for key, value in changes.items():
        changed.pop(key, None)
        if value:
            changed[key] = value
    encoded = changed.urlencode()
    return f"/console/audit?{encoded}" if encoded else "/console/audit"


class EventDetail(AuditPage):
    template_name = "console/audit/detail.html"

    def get(self, request, event_id: str):
        self.authorize_lookup()
        try:
            event = selectors.visible_event(self.account.pk, uuid.UUID(event_id))
        except ValueError:
            event = None
        if event is None:
            raise Http404(f"There is no event {event_id[:64]} in account {self.account.pk}'s audit trail.")
        previous_hashes = _links([event])
        after = Event.objects.filter(sequence=event.sequence + 1).values_list("previous_hash", flat=True).first()
        record = to_record(event)
        return self.render(
            {
                "event": event,
                "record_json": json.dumps(record, indent=2, ensure_ascii=False),
                "recomputed": chain.event_hash(event),
                "next_links": None if after is None else after == event.hash,
                "state": self.verification(),
                **_checked(event, previous_hashes),
            }
        )


class VerifyNow(AuditPage):
    def post(self, request):
        """Queue a walk of the whole chain (one at a time), then back to the page."""
        self.authorize_lookup()
        if verification.request_verification():
            transaction.on_commit(tasks.verify_chain.delay)
            self.done("The chain is being verified: its result appears here when the walk ends.")
        else:
            self.done("A verification is already under way: its result appears here when it ends.")
        return HttpResponseRedirect("/console/audit#chain")


urlpatterns = [
    path("/audit", EventList.as_view(), name="audit"),
    path("/audit/verify", VerifyNow.as_view(), name="verify_audit_chain"),
    path("/audit/<str:event_id>", EventDetail.as_view(), name="audit_event"),
]

"""`berth usage_snapshot`: take today's storage snapshot now, as the scheduler does
each day at 23:50 UTC (after an outage that missed it, or to see today's early)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.audit.events import Actor
from apps.usage import services


class Command(BaseCommand):
    help = (
        "Take today's (UTC) storage snapshot of every account: stored bytes per repository and per account. "
        "Taken again, the day's snapshot replaces that day's rows."
    )

    def handle(self, *args, **options):
        day = timezone.now().date()
        accounts = services.take_snapshot(actor=Actor.system("usage"), day=day)
        self.stdout.write(f"usage snapshot of {day.isoformat()}: {accounts} accounts")

from django.core.management.base import BaseCommand

from ... import outbox
from ...models import DomainEvent

LISTED = 20  # events waiting for a retry, shown with their last failure


class Command(BaseCommand):
    help = (
        "Deliver the domain events that are due (left undelivered by a process that stopped, or waiting to be "
        "retried), then list those still waiting; Celery beat does the delivery every BERTH_EVENTS_SWEEP_SECONDS."
    )

    def handle(self, *args, **options):
        delivered = outbox.deliver_due()
        self.stdout.write(f"delivered {delivered} domain events")
        waiting = DomainEvent.objects.order_by("due_at", "pk")
        count = waiting.count()
        if not count:
            return
        self.stdout.write(f"{count} still waiting:")
        for event in waiting[:LISTED]:
            self.stdout.write(
                f"  {event} ({event.occurred_at.isoformat()}): {event.attempts} failed attempts, next at "
                f"{event.due_at.isoformat()}; {event.last_error.splitlines()[0] if event.last_error else 'no error'}"
            )

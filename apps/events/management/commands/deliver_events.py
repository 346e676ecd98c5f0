from django.core.management.base import BaseCommand

from ... import outbox


class Command(BaseCommand):
    help = (
        "Deliver the domain events that are due (left undelivered by a process that stopped, or waiting to be "
        "retried); Celery beat does this every BERTH_EVENTS_SWEEP_SECONDS."
    )

    def handle(self, *args, **options):
        delivered = outbox.deliver_due()
        self.stdout.write(f"delivered {delivered} domain events")

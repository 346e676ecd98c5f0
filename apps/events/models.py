"""The outbox's one table: domain events not yet delivered to every subscriber."""

from django.db import models
from django.utils import timezone


class DomainEvent(models.Model):
    """An event a write published (apps.events.outbox), from the commit of its
    transaction until every subscriber has run; then deleted."""

    name = models.CharField(max_length=64)
    payload = models.JSONField()
    occurred_at = models.DateTimeField(default=timezone.now)
    # The subscribers (by name) whose work for the event has committed.
    delivered_to = models.JSONField(default=list)
    # Failed deliveries so far, and when the sweeper may try again.
    attempts = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["due_at"], name="domain_event_due")]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"

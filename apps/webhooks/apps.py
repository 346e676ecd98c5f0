from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    label = "webhooks"
    verbose_name = "webhooks"

    def ready(self) -> None:
        from apps.events import outbox

        from . import cloudevents, subscribers

        for name in cloudevents.DELIVERED_EVENTS:
            outbox.subscribe(name, subscribers.deliver_to_webhooks)

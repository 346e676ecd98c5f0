from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "apps.usage"
    label = "usage"
    verbose_name = "usage"

    def ready(self) -> None:
        from apps.events import names, outbox

        from . import subscribers

        outbox.subscribe(names.BLOBS_SERVED, subscribers.add_served_bytes)

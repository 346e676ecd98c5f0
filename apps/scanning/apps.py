from django.apps import AppConfig


class ScanningConfig(AppConfig):
    name = "apps.scanning"
    label = "scanning"
    verbose_name = "vulnerability scanning"

    def ready(self) -> None:
        from apps.events import names, outbox

        from . import subscribers

        outbox.subscribe(names.IMAGE_PUSHED, subscribers.scan_on_push)
        outbox.subscribe(names.IMAGE_SCAN_REQUESTED, subscribers.run_scan)
        outbox.subscribe(names.ADVISORIES_CHANGED, subscribers.rematch)

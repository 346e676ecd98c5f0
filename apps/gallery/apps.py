from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "apps.gallery"
    label = "gallery"

    def ready(self) -> None:
        from apps.accounts import staff_context as accounts_staff_context
        from apps.events import names, outbox

        from . import subscribers
        from .staff_context import pull_figures

        accounts_staff_context.register(pull_figures)

        # A deleted repository's row goes with it (a cascade): no event of its own is needed.
        for event_name in (
            names.REPOSITORY_CREATED, names.REPOSITORY_CHANGED, names.TAG_MOVED, names.TAG_DELETED,
            names.IMAGE_DELETED, names.IMAGE_DETAILS_RECORDED,
        ):  # fmt: skip
            outbox.subscribe(event_name, subscribers.refresh_repository)
        outbox.subscribe(names.ACCOUNT_CHANGED, subscribers.refresh_publisher)
        outbox.subscribe(names.IMAGES_PULLED, subscribers.count_pulls)
        outbox.subscribe(names.IMAGE_SCAN_COMPLETED, subscribers.keep_scan_summary)
        outbox.subscribe(names.IMAGES_REMATCHED, subscribers.keep_scan_summaries)

from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "apps.registry"
    label = "registry"

    def ready(self) -> None:
        from apps.events import outbox
        from apps.events.names import IMAGE_PUSHED, REPOSITORY_DELETED

        from . import subscribers

        outbox.subscribe(IMAGE_PUSHED, subscribers.record_image_details)
        outbox.subscribe(REPOSITORY_DELETED, subscribers.discard_spooled_uploads)

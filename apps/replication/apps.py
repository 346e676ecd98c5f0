from django.apps import AppConfig


class ReplicationConfig(AppConfig):
    name = "apps.replication"
    label = "replication"
    verbose_name = "replication and pull-through cache"

    def ready(self) -> None:
        from apps.events import names, outbox
        from apps.registry import upstream

        from . import cache, subscribers

        outbox.subscribe(names.IMAGE_PUSHED, subscribers.replicate_pushed_image)
        outbox.subscribe(names.TAG_MOVED, subscribers.replicate_moved_tag)
        outbox.subscribe(names.IMAGE_DELETED, subscribers.replicate_deleted_image)
        outbox.subscribe(names.TAG_DELETED, subscribers.replicate_deleted_tag)
        upstream.register(cache.SOURCE)

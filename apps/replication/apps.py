from django.apps import AppConfig


class ReplicationConfig(AppConfig):
    name = "apps.replication"
    label = "replication"
    verbose_name = "replication and pull-through cache"

    def ready(self) -> None:
        from apps.registry import upstream

        from . import cache

        upstream.register(cache.SOURCE)

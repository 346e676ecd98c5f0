from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "apps.gallery"
    label = "gallery"

    def ready(self) -> None:
        from apps.audit import recorder

        # Keeps the gallery's search rows in step with the models they summarize.
        from . import pulls, signals  # noqa: F401

        # Pull counters are fed from the audit recorder's flushed batches, off the pull path.
        recorder.add_listener(pulls.count_pulls)

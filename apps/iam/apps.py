from django.apps import AppConfig


class IamConfig(AppConfig):
    name = "apps.iam"
    label = "iam"

    def ready(self) -> None:
        from . import schema  # noqa: F401  (registers the OpenAPI description of temporary credentials)

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "apps.api"
    label = "api"

    def ready(self) -> None:
        # Registers the OpenAPI description of the authentication schemes with drf-spectacular.
        from . import schema  # noqa: F401

from django.apps import AppConfig


class AwsConfig(AppConfig):
    name = "apps.aws"
    label = "aws"

    def ready(self) -> None:
        # The handler modules fill the table of operations as they are imported.
        from . import handlers  # noqa: F401

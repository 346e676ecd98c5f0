from django.apps import AppConfig


class RepositoriesConfig(AppConfig):
    name = "apps.repositories"
    label = "repositories"

    def ready(self) -> None:
        from apps.accounts import staff_context

        from .staff_context import repository_figures

        staff_context.register(repository_figures)

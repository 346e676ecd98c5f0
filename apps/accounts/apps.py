from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self) -> None:
        from apps.events import outbox
        from apps.events.names import ALIAS_REQUEST_DECIDED

        from . import subscribers

        outbox.subscribe(ALIAS_REQUEST_DECIDED, subscribers.tell_requester)

from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "apps.lifecycle"
    label = "lifecycle"
    verbose_name = "lifecycle policies"

    def ready(self) -> None:
        from apps.events import names, outbox
        from apps.repositories import creation_templates

        from . import policy, subscribers

        # A creation template's lifecycle policy is validated as PutLifecyclePolicy validates one.
        creation_templates.register_policy_validator(
            creation_templates.LIFECYCLE_POLICY, lambda text, account_id: policy.parse(text)
        )
        outbox.subscribe(names.REPOSITORY_CREATED, subscribers.apply_creation_template)

from django.apps import AppConfig


class IamConfig(AppConfig):
    name = "apps.iam"
    label = "iam"

    def ready(self) -> None:
        from apps.repositories import creation_templates

        from . import (
            schema,  # noqa: F401  (registers the OpenAPI description of temporary credentials)
            services,
        )

        # A creation template's repository policy is validated as SetRepositoryPolicy validates one.
        creation_templates.register_policy_validator(
            creation_templates.REPOSITORY_POLICY, services.validate_repository_policy
        )

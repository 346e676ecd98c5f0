"""Celery tasks: thin wrappers around services."""

from celery import shared_task

from apps.repositories.models import Repository

from . import selectors, services


@shared_task(ignore_result=True)
def run_lifecycle_policies() -> int:
    """The daily beat: one task per repository with a policy, so that a large
    repository does not hold up the others."""
    repository_ids = selectors.repositories_with_policies()
    for repository_id in repository_ids:
        run_lifecycle_policy.delay(repository_id)
    return len(repository_ids)


@shared_task(ignore_result=True)
def run_lifecycle_policy(repository_id: int) -> int:
    repository = Repository.objects.select_related("account").filter(pk=repository_id).first()
    if repository is None:
        return 0
    return len(services.run_lifecycle_policy(repository=repository).expired)

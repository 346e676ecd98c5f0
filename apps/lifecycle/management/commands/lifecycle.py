"""`berth lifecycle run [ACCOUNT_ID/NAME…]`: apply lifecycle policies now, as the
daily beat does (every repository with a policy, or those named)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.lifecycle import selectors, services
from apps.repositories.models import Repository


class Command(BaseCommand):
    help = (
        "Lifecycle policies. `run`: evaluate and apply them now, as the daily run does (every repository with a "
        "policy, or the repositories named as ACCOUNT_ID/NAME), and say what each expired."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        running = sub.add_parser("run", help="apply lifecycle policies now")
        running.add_argument("repositories", nargs="*", metavar="ACCOUNT_ID/NAME")

    def handle(self, *args, action: str, repositories: list[str], **options):
        if repositories:
            chosen = []
            for given in repositories:
                account_id, _, name = given.partition("/")
                found = Repository.objects.select_related("account").filter(account_id=account_id, name=name).first()
                if found is None:
                    raise CommandError(f"{given}: no such repository (give ACCOUNT_ID/NAME)")
                chosen.append(found)
        else:
            ids = selectors.repositories_with_policies()
            chosen = list(
                Repository.objects.select_related("account").filter(pk__in=ids).order_by("account_id", "name")
            )
        for repository in chosen:
            if selectors.policy_of(repository) is None:
                self.stdout.write(f"{repository.account_id}/{repository.name}: no lifecycle policy")
                continue
            result = services.run_lifecycle_policy(repository=repository)
            left = f", {len(result.skipped)} left because they changed" if result.skipped else ""
            self.stdout.write(
                f"{repository.account_id}/{repository.name}: {len(result.expired)} images expired "
                f"({len(result.deleted)} manifests){left}"
            )

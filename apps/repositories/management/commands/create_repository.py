import json

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Account
from apps.audit.events import Actor
from apps.repositories import services
from apps.repositories.models import Visibility


class Command(BaseCommand):
    help = "Create a repository in an account (private unless --public)."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="12-digit account id")
        parser.add_argument("--name", required=True)
        parser.add_argument("--public", action="store_true")
        parser.add_argument(
            "--encryption",
            choices=["none", "AES256", "KMS"],
            help="encryption at rest, for good (default: BERTH_DEFAULT_ENCRYPTION); KMS needs --kms-key",
        )
        parser.add_argument("--kms-key", default="", help="with --encryption KMS: the key")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, account, name, public, **options):
        owner = Account.objects.filter(pk=account).first()
        if owner is None:
            raise CommandError(f"no account {account}")
        visibility = Visibility.PUBLIC if public else Visibility.PRIVATE
        try:
            repository = services.create_repository(
                account=owner,
                name=name,
                visibility=visibility,
                encryption_type=None if options["encryption"] is None else options["encryption"].replace("none", ""),
                kms_key=options["kms_key"],
                actor=Actor.system("create_repository"),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        namespace = owner.primary_alias if public else owner.id
        result = {
            "account_id": owner.id,
            "name": repository.name,
            "visibility": visibility,
            "uri": f"{namespace}/{repository.name}",
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(f"{visibility} repository {result['uri']} created")

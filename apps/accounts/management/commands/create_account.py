import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts import services


class Command(BaseCommand):
    help = "Create an account and its first user; prints the account id and default alias."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, name, username, password, email, **options):
        try:
            account = services.create_account(name=name, username=username, password=password, email=email)
        except ValidationError as exc:
            raise CommandError("password rejected: " + " ".join(exc.messages)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        result = {"account_id": account.id, "alias": account.default_alias, "name": account.name, "username": username}
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(f"account {account.id} created; default alias {result['alias']}; user {username}")

from django.core.management.base import BaseCommand

from ... import services


class Command(BaseCommand):
    help = (
        "Rebuild the gallery's search row of every public repository (after installing the gallery, or to repair it)."
    )

    def handle(self, *args, **options):
        count = services.refresh_all()
        self.stdout.write(f"refreshed {count} public repositories")

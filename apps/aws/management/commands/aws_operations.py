from django.core.management.base import BaseCommand

from apps.aws import catalog


class Command(BaseCommand):
    help = (
        "List the ECR, ECR Public and STS operations Berth's AWS endpoint supports, and those it does not (Markdown)."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(catalog.markdown(), ending="")

"""`manage.py verify_audit_chain`: recompute every stored event's hash and check
the links between them, from the first event retention kept to the chain head."""

from django.core.management.base import BaseCommand, CommandError

from apps.audit import chain


class Command(BaseCommand):
    help = (
        "Check the audit trail's hash chain: every event's hash, its link to the one before, and no gaps. "
        "Exits 1 naming the first event that fails."
    )

    def handle(self, *args, **options):
        report = chain.verify()
        if not report.intact:
            raise CommandError(str(report), returncode=1)
        self.stdout.write(str(report))

"""`berth worker`: a Celery worker on its own, for scaled deployments."""

import os

from django.core.management.base import BaseCommand

from .serve import celery_command, fresh_metrics_dir


class Command(BaseCommand):
    help = "Run a Celery worker."

    def handle(self, *args, **options):
        # its pool processes' counters: scraped on its own BERTH_METRICS_BIND (docs/operations.md)
        fresh_metrics_dir("worker")
        command = celery_command(role="worker")
        os.execv(command[0], command)

"""`berth worker`: a Celery worker on its own, for scaled deployments."""

import os

from django.core.management.base import BaseCommand

from .serve import celery_command


class Command(BaseCommand):
    help = "Run a Celery worker."

    def handle(self, *args, **options):
        command = celery_command(role="worker")
        os.execv(command[0], command)

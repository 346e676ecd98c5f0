"""`berth beat`: the periodic scheduler on its own (run exactly one)."""

import os

from django.core.management.base import BaseCommand

from .serve import celery_command


class Command(BaseCommand):
    help = "Run the Celery periodic scheduler."

    def handle(self, *args, **options):
        command = celery_command(role="beat")
        os.execv(command[0], command)

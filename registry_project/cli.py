"""The `berth` command: Django's management commands under one name.

`berth serve` runs everything; `berth worker` and `berth beat` run the background
parts on their own; every other management command works too
(`berth create_account ...`, `berth migrate`)."""
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["berth", *sys.argv[1:]])

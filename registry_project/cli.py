"""The `berth` command, two worlds under one name.

- Client commands (`berth configure`, `login`, `repo`, `images`, `access-keys`, ...)
  talk to a Berth server's API from anywhere: they are the click application in
  `berth_cli`, which never imports Django.
- Everything else is one of Django's management commands on the server host:
  `berth serve` runs everything, `berth worker` and `berth beat` the background
  parts on their own, `berth create_account ...`, `berth migrate` and the rest.

`berth help` lists both; `berth help <command>` explains one of either."""
import os
import sys

import berth_cli

HELP_WORDS = ("help", "-h", "--help")


def _command_word(args: list[str]) -> str | None:
    """The first word that is not the client's global `--profile NAME`."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--profile":
            skip = True
        elif not arg.startswith("--profile="):
            return arg
    return None


def _client(args: list[str]) -> None:
    from berth_cli.app import main as client_main

    client_main(args)


def _server(args: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["berth", *args])


def _help_for_both() -> None:
    from berth_cli.app import cli

    with cli.make_context("berth", ["--help"], resilient_parsing=True) as context:
        print(cli.get_help(context))
    print("\nServer commands (on the server host, Django management):")
    _server(["help"])


def main() -> None:
    args = sys.argv[1:]
    word = _command_word(args)
    if word is None or (word in HELP_WORDS and args[args.index(word) + 1 :] == []):
        _help_for_both()
    elif word == "help" and args[args.index(word) + 1] in berth_cli.COMMANDS:
        _client([*args[args.index(word) + 1 :], "--help"])
    elif word in berth_cli.COMMANDS or word == "--version":
        _client(args)
    else:
        _server(args)

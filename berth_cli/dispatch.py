"""The `berth` command, two worlds under one name.

- Client commands (`berth configure`, `login`, `repo`, `images`, `access-keys`, ...)
  talk to a Berth server's API from anywhere: they are the click application in
  `berth_cli.app`, which never imports Django.
- Everything else is one of Django's management commands on the server host:
  `berth serve` runs everything, `berth worker` and `berth beat` the background
  parts on their own, `berth create_account ...`, `berth migrate` and the rest.
  Only these import the server (`registry_project`, Django, Celery), and only when
  they run: a client installed without the server's packages (`pip install berth`
  rather than `berth[server]`) says so instead.

`berth help` lists both; `berth help <command>` explains one of either."""

import importlib.metadata
import os
import re
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


_SERVER_EXTRA = re.compile(r"""extra\s*==\s*["']server["']""")
_DISTRIBUTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def missing_server_packages() -> list[str]:
    """The packages of the `server` extra that are not installed here."""
    try:
        requirements = importlib.metadata.requires("berth") or []
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return []
    missing = []
    for requirement in requirements:
        if not _SERVER_EXTRA.search(requirement):
            continue
        name = _DISTRIBUTION_NAME.match(requirement).group()
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    return missing


SERVER_INSTALL_HINT = (
    "install the server's packages: pip install 'berth[server]' (from a checkout: pip install -r requirements.txt -e .)"
)


def _server(args: list[str]) -> None:
    missing = missing_server_packages()
    if missing:
        word = _command_word(args) or "help"
        sys.exit(
            f"berth: {word!r} is a server command, and this install is the client only "
            f"(missing: {', '.join(missing)}): {SERVER_INSTALL_HINT}"
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["berth", *args])


def _help_for_both() -> None:
    from berth_cli.app import cli

    with cli.make_context("berth", ["--help"], resilient_parsing=True) as context:
        print(cli.get_help(context))
    print("\nServer commands (on the server host, Django management):")
    if missing_server_packages():
        print(f"  (not installed here: {SERVER_INSTALL_HINT})")
    else:
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

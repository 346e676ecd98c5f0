"""One `berth` for both worlds: the client's commands and Django's management commands."""

import subprocess
import sys

import pytest

import berth_cli
from berth_cli.app import cli
from berth_cli.dispatch import _command_word


def test_the_dispatcher_knows_every_client_command():
    assert berth_cli.COMMANDS == set(cli.commands)


@pytest.mark.parametrize(
    ("args", "word"),
    [
        ([], None),
        (["repo", "list"], "repo"),
        (["--profile", "ci", "repo", "list"], "repo"),
        (["--profile=ci", "images", "list", "x"], "images"),
        (["serve", "--bind", "0.0.0.0:5000"], "serve"),
    ],
)
def test_the_command_word_skips_the_profile_option(args, word):
    assert _command_word(args) == word


def test_the_client_never_imports_django():
    code = "import sys, berth_cli.app; sys.exit('django' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

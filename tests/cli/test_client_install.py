"""The client installs on its own: `pip install -e .` into a fresh virtual
environment brings click, rich and requests and nothing of the server, and
`berth` works there: help, a client command against a live server, and a clear
word for a server command."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
import requests
from packaging.requirements import Requirement

from tests.e2e.conftest import CMD_TIMEOUT

REPOSITORY = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 300


def project() -> dict:
    return tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]


def pinned() -> dict[str, str]:
    """requirements.txt: normalised name -> exact version."""
    pins = {}
    for line in (REPOSITORY / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            [specifier] = requirement.specifier
            pins[re.sub(r"[-_.]+", "-", requirement.name).lower()] = specifier.version
    return pins


def test_every_declared_dependency_is_pinned_at_a_version_it_accepts():
    pins = pinned()
    for line in project()["dependencies"] + project()["optional-dependencies"]["server"]:
        requirement = Requirement(line)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{requirement.name} is declared in pyproject.toml but not pinned in requirements.txt"
        assert requirement.specifier.contains(pins[name]), f"requirements.txt pins {name}=={pins[name]}: {line}"


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory) -> Path:
    """A fresh environment with `pip install -e .` of this project and nothing else
    (pip is this interpreter's, pointed at it: no copy of pip to install first)."""
    root = tmp_path_factory.mktemp("client-venv") / "venv"
    venv.create(root, with_pip=False)
    python = root / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "-e", str(REPOSITORY)],
        check=True,
        capture_output=True,
        timeout=INSTALL_TIMEOUT,
    )
    return root


def run_berth(client_venv: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(client_venv / "bin" / "berth"), *args],
        capture_output=True,
        text=True,
        timeout=CMD_TIMEOUT,
        env=env,
        check=False,
    )


@pytest.mark.database_independent
def test_the_client_environment_holds_no_server_package(client_venv):
    python = str(client_venv / "bin" / "python")
    for module in ("django", "celery", "gunicorn"):
        found = subprocess.run([python, "-c", f"import {module}"], capture_output=True, check=False)
        assert found.returncode != 0, f"{module} is installed with the client alone"
    assert subprocess.run([python, "-c", "import click, rich, requests"], check=False).returncode == 0


@pytest.mark.database_independent
def test_help_lists_the_client_commands_and_says_how_to_get_the_server(client_venv):
    result = run_berth(client_venv, "--help")
    assert result.returncode == 0, result.stderr
    assert "configure" in result.stdout and "images" in result.stdout
    assert "pip install 'berth[server]'" in result.stdout
    configure = run_berth(client_venv, "configure", "--help")
    assert configure.returncode == 0 and "--endpoint" in configure.stdout, configure.stderr


@pytest.mark.database_independent
def test_a_server_command_says_what_to_install(client_venv):
    result = run_berth(client_venv, "serve")
    assert result.returncode == 1
    assert "'serve' is a server command" in result.stderr and "pip install 'berth[server]'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.database_independent
def test_a_client_command_talks_to_a_live_server(client_venv, berth, tmp_path):
    account = berth.create_account("Client Install Co")
    key = requests.post(
        f"{berth.url}/api/v1/auth/access-keys",
        json={"username": account.username, "password": account.password},
        timeout=30,
    ).json()
    env = {
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "BERTH_ENDPOINT": berth.url,
        "BERTH_ACCESS_KEY_ID": key["accessKeyId"],
        "BERTH_SECRET_ACCESS_KEY": key["secretAccessKey"],
    }
    created = run_berth(client_venv, "repo", "create", "installed/alone", env=env)
    assert created.returncode == 0, created.stderr
    listed = run_berth(client_venv, "repo", "list", "--output", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "installed/alone" in listed.stdout

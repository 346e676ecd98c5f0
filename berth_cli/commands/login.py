"""`berth get-login-password` and `berth login`: Amazon ECR's GetAuthorizationToken,
a 12-hour registry password for the user name `berth`, and the docker `config.json`
entry that holds it."""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import click

from ..context import Failure, Session, pass_session
from ..output import JSON, Activity, emit, output_option, when


def registry_host(endpoint: str) -> str:
    """What image references start with: the endpoint's host[:port] (and path, behind a prefix)."""
    parts = urlsplit(endpoint)
    return f"{parts.netloc}{parts.path}".rstrip("/")


def fetch_login_password(session: Session) -> dict:
    """`{"password", "username", "registry", "expiresAt"}` for the signed-in user."""
    with Activity("Getting a registry login password"):
        token = session.client.post("/authorization-token")
    return {
        "username": token["username"],
        "password": token["password"],
        "registry": registry_host(token.get("proxyEndpoint") or session.client.endpoint),
        "expiresAt": token.get("expiresAt"),
    }


def docker_config_path() -> Path:
    directory = os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker"
    return Path(directory) / "config.json"


def write_docker_auth(path: Path, registry: str, username: str, password: str) -> list[str]:
    """Put the registry's `auths` entry in a docker config file, keeping everything else in it.
    Returns warnings about settings that make docker look elsewhere for this registry."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        document = {}
    except (OSError, ValueError) as exc:
        raise Failure(f"cannot read {path}: {exc}") from None
    if not isinstance(document, dict):
        raise Failure(f"{path} is not a JSON object")
    auths = document.setdefault("auths", {})
    auths[registry] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode("ascii")}
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(document, file, indent="\t")
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    helper = (document.get("credHelpers") or {}).get(registry) or document.get("credsStore")
    if helper:
        return [
            (
                f"{path} sends credentials to the docker-credential-{helper} helper, which docker asks before "
                f"this file; run `berth get-login-password | docker login --username {username} --password-stdin "
                f"{registry}` instead"
            )
        ]
    return []


@click.command("get-login-password", short_help="Print a 12-hour registry password for user `berth`.")
@pass_session
def get_login_password(session: Session) -> None:
    """Print a registry password (valid 12 hours) for the user name `berth`.

    \b
    berth get-login-password | docker login --username berth --password-stdin HOST
    """
    click.echo(fetch_login_password(session)["password"])


@click.command(short_help="Log docker, podman and skopeo in to the registry.")
@click.option(
    "--config-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="the docker config to write (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json; "
    "podman's and skopeo's auth.json have the same format)",
)
@click.option("--print-password", is_flag=True, help="print the password instead of writing a config file")
@output_option
@pass_session
def login(session: Session, config_file: Path | None, print_password: bool, output: str) -> None:
    """Log docker (podman, skopeo, ...) in to the registry for 12 hours.

    Writes the registry's entry in docker's config.json, as `docker login` would, so
    that `docker push HOST/ACCOUNT/NAME:TAG` just works; --print-password prints the
    password instead."""
    credentials = fetch_login_password(session)
    if print_password:
        click.echo(credentials["password"])
        return
    path = config_file or docker_config_path()
    warnings = write_docker_auth(path, credentials["registry"], credentials["username"], credentials["password"])
    for warning in warnings:
        click.echo(f"berth: warning: {warning}", err=True)
    result = {
        "registry": credentials["registry"],
        "username": credentials["username"],
        "expiresAt": credentials["expiresAt"],
        "configFile": str(path),
    }
    if output == JSON:
        emit(result, output, str)
        return
    expiry = f" until {when(credentials['expiresAt'])}" if credentials["expiresAt"] else ""
    click.echo(f"Logged in to {credentials['registry']} as {credentials['username']}{expiry} (in {path}).")

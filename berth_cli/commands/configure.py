"""`berth configure`: sign in once with a username and password, mint an access key,
and store it with the endpoint. A new user needs nothing else to start."""

from __future__ import annotations

import os
import sys

import click

from .. import config
from ..client import Client
from ..context import Failure, Session, pass_session
from ..output import JSON, Activity, emit, output_option


def _read_stdin_line(what: str) -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise Failure(f"no {what} on standard input")
    return value


@click.command()
@click.option("--endpoint", help="the Berth server's URL, e.g. https://registry.example.com")
@click.option(
    "--username",
    help="who signs in: an IAM user as ACCOUNT/USER (the account's 12-digit id or its alias, then the user's "
    "name), the account's root user by its own user name",
)
@click.option("--password-stdin", is_flag=True, help="read the password from standard input (one line)")
@click.option(
    "--access-key-id",
    help="store this existing access key instead of signing in (the secret is prompted for, or read with "
    "--secret-access-key-stdin)",
)
@click.option("--secret-access-key-stdin", is_flag=True, help="read the access key's secret from standard input")
@output_option
@pass_session
def configure(
    session: Session,
    endpoint: str | None,
    username: str | None,
    password_stdin: bool,
    access_key_id: str | None,
    secret_access_key_stdin: bool,
    output: str,
) -> None:
    """Sign in and store an endpoint and access key.

    Signs in once with your username and password (prompted, the password hidden) to
    create an access key, then stores the endpoint and key in
    ~/.config/berth/credentials (mode 0600) for every later command. The password is
    not stored. BERTH_ENDPOINT, BERTH_ACCESS_KEY_ID and BERTH_SECRET_ACCESS_KEY
    override the file. An IAM user names its account: ACCOUNT/USER, with the
    account's id or alias (123456789012/alice, acme/alice); the root user signs in
    by its own user name.

    \b
    berth configure
    echo "$PASSWORD" | berth configure --endpoint https://registry.example.com --username acme/alice --password-stdin
    """
    if password_stdin and secret_access_key_stdin:
        raise click.UsageError("--password-stdin and --secret-access-key-stdin both read standard input; pick one")
    if secret_access_key_stdin and not access_key_id:
        raise click.UsageError("--secret-access-key-stdin needs --access-key-id")
    unattended = password_stdin or secret_access_key_stdin
    if endpoint is None:
        known_endpoint = os.environ.get(config.ENV_ENDPOINT) or config.stored_profile(session.profile).get("endpoint")
        if unattended:
            if not known_endpoint:
                raise click.UsageError("--endpoint is required when reading a secret from standard input")
            endpoint = known_endpoint
        else:
            endpoint = click.prompt("Berth endpoint", default=known_endpoint or config.DEFAULT_ENDPOINT)
    endpoint = config.normalize_endpoint(endpoint)

    if access_key_id:
        secret = (
            _read_stdin_line("secret access key")
            if secret_access_key_stdin
            else click.prompt("Secret access key", hide_input=True)
        )
        client = Client(endpoint, access_key_id, secret)
        with Activity(f"Checking access key {access_key_id} at {endpoint}"):
            client.get("/access-keys")  # refuses a wrong or inactive key before it is stored
        key = {"accessKeyId": access_key_id, "secretAccessKey": secret}
        signed_in_as = None
    else:
        if username is None:
            if password_stdin:
                raise click.UsageError("--username is required with --password-stdin")
            username = click.prompt("Username (ACCOUNT/USER for an IAM user)")
        password = _read_stdin_line("password") if password_stdin else click.prompt("Password", hide_input=True)
        with Activity(f"Signing in to {endpoint} as {username}"):
            key = Client(endpoint).post("/auth/access-keys", {"username": username, "password": password})
        signed_in_as = username

    path = config.save(config.Credentials(endpoint, key["accessKeyId"], key["secretAccessKey"]), session.profile)
    result = {
        "profile": session.profile,
        "endpoint": endpoint,
        "accessKeyId": key["accessKeyId"],
        "credentialsFile": str(path),
    }
    if output == JSON:
        emit(result, output, str)
        return
    who = f"Signed in as {signed_in_as}; new" if signed_in_as else "Checked"
    click.echo(f"{who} access key {key['accessKeyId']} stored for {endpoint} in {path} (profile {session.profile}).")

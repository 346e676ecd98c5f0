"""`berth sts`: temporary credentials (AssumeRole) and who the credentials are."""

from __future__ import annotations

import shlex

import click

from .. import config
from ..context import Session, pass_session
from ..output import Activity, Column, emit, fields, output_option, when

CREDENTIAL_COLUMNS = [
    Column("Assumed role", "assumedRoleUser.arn"),
    Column("Access key id", "credentials.accessKeyId"),
    Column("Secret access key", "credentials.secretAccessKey"),
    Column("Session token", "credentials.sessionToken"),
    Column("Expires", "credentials.expiration", when),
]
IDENTITY_COLUMNS = [Column("Account", "account"), Column("ARN", "arn"), Column("User id", "userId")]


@click.group("sts", short_help="Assume roles; show who you are.")
def sts() -> None:
    """Temporary credentials: assume a role to act with its policies for a while."""


def _exports(assumed: dict) -> str:
    credentials = assumed["credentials"]
    return "\n".join(
        f"export {name}={shlex.quote(value)}"
        for name, value in (
            (config.ENV_ACCESS_KEY_ID, credentials["accessKeyId"]),
            (config.ENV_SECRET_ACCESS_KEY, credentials["secretAccessKey"]),
            (config.ENV_SESSION_TOKEN, credentials["sessionToken"]),
        )
    )


@sts.command("assume-role")
@click.option("--role-arn", required=True, help="the role's ARN (arn:berth:iam::<account>:role/<name>)")
@click.option("--session-name", required=True, help="names the session in ARNs and the audit trail")
@click.option(
    "--duration",
    type=click.IntRange(900, 43200),
    default=3600,
    show_default=True,
    help="seconds the credentials last (at most the role's maximum)",
)
@click.option(
    "--export",
    "as_exports",
    is_flag=True,
    help="print shell `export` lines that make later berth commands use the credentials",
)
@output_option
@pass_session
def assume_role(
    session: Session, role_arn: str, session_name: str, duration: int, as_exports: bool, output: str
) -> None:
    """Assume a role and print its temporary credentials (the secret is shown this once).
    `eval "$(berth sts assume-role ... --export)"` switches this shell to them."""
    body = {"roleArn": role_arn, "roleSessionName": session_name, "durationSeconds": duration}
    with Activity(f"Assuming {role_arn}"):
        assumed = session.client.post("/sts/assume-role", body)
    if as_exports:
        click.echo(_exports(assumed))
        return
    emit(assumed, output, lambda assumed: fields(assumed, CREDENTIAL_COLUMNS))


@sts.command("get-caller-identity")
@output_option
@pass_session
def get_caller_identity(session: Session, output: str) -> None:
    """Show the account and ARN of the credentials in use."""
    with Activity("Asking who I am"):
        identity = session.client.get("/sts/caller-identity")
    emit(identity, output, lambda identity: fields(identity, IDENTITY_COLUMNS))

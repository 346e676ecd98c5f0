"""`berth access-keys`: IAM's access key calls for the signed-in user."""

from __future__ import annotations

from urllib.parse import quote

import click

from ..context import Session, pass_session
from ..output import Activity, Column, emit, fields, output_option, table, when

KEY_COLUMNS = [
    Column("Access key id", "accessKeyId"),
    Column("Status", "status"),
    Column("Created", "createdAt", when),
    Column("Last used", "lastUsedAt", when),
]
NEW_KEY_COLUMNS = [
    Column("Access key id", "accessKeyId"),
    Column("Secret access key", "secretAccessKey"),
    Column("Status", "status"),
    Column("Created", "createdAt", when),
]


def _key_path(access_key_id: str) -> str:
    return f"/access-keys/{quote(access_key_id, safe='')}"


@click.group("access-keys", short_help="Create, list, deactivate and delete access keys.")
def access_keys() -> None:
    """Create, list, deactivate and delete your access keys (at most two active)."""


@access_keys.command("create")
@output_option
@pass_session
def create(session: Session, output: str) -> None:
    """Create an access key. Its secret is shown this once."""
    with Activity("Creating an access key"):
        key = session.client.post("/access-keys")
    emit(key, output, lambda key: fields(key, NEW_KEY_COLUMNS) + "\n\nThe secret is shown only now: keep it safe.")


@access_keys.command("list")
@output_option
@pass_session
def list_(session: Session, output: str) -> None:
    """List your access keys with when each was last used."""
    with Activity("Listing access keys"):
        keys = session.client.get("/access-keys")
    emit(keys, output, lambda keys: table(keys["accessKeys"], KEY_COLUMNS))


def _set_status(session: Session, access_key_id: str, status: str, output: str) -> None:
    with Activity(f"Updating access key {access_key_id}"):
        key = session.client.patch(_key_path(access_key_id), {"status": status})
    emit(key, output, lambda key: fields(key, KEY_COLUMNS))


@access_keys.command("deactivate", short_help="Stop a key working (it can be activated again).")
@click.argument("access_key_id")
@output_option
@pass_session
def deactivate(session: Session, access_key_id: str, output: str) -> None:
    """Refuse the key from the next request on (it can be activated again)."""
    _set_status(session, access_key_id, "INACTIVE", output)


@access_keys.command("activate")
@click.argument("access_key_id")
@output_option
@pass_session
def activate(session: Session, access_key_id: str, output: str) -> None:
    """Take an inactive key back into use."""
    _set_status(session, access_key_id, "ACTIVE", output)


@access_keys.command("delete")
@click.argument("access_key_id")
@pass_session
def delete(session: Session, access_key_id: str) -> None:
    """Delete an access key for good."""
    with Activity(f"Deleting access key {access_key_id}"):
        session.client.delete(_key_path(access_key_id))
    click.echo(f"Deleted access key {access_key_id}.")

"""`berth webhooks`: the account's webhook endpoints, their deliveries and redelivery
(Berth's own API; docs/webhooks.md)."""

from __future__ import annotations

from urllib.parse import quote

import click

from ..context import Session, pass_session
from ..output import Activity, Column, emit, output_option, table, when

EVENTS = (
    "*",
    "image.pushed",
    "image.deleted",
    "tag.moved",
    "tag.deleted",
    "image.scan_completed",
    "image.replication_changed",
    "alias_request.decided",
)
WEBHOOK_COLUMNS = [
    Column("Id", "webhookId"),
    Column("URL", "url"),
    Column("Events", lambda row: ", ".join(row["events"])),
    Column("Active", lambda row: "yes" if row["active"] else "no"),
    Column("Description", "description"),
]
DELIVERY_COLUMNS = [
    Column("Delivery", "deliveryId"),
    Column("Event", "eventName"),
    Column("Status", "status"),
    Column("Tries", "attempts"),
    Column("Code", "lastStatusCode"),
    Column("Latency ms", "latencyMs"),
    Column("Created", "createdAt", when),
    Column("Next try", "nextAttemptAt", when),
]


def _path(webhook_id: str, *rest: str) -> str:
    return "/".join(["/webhooks", quote(webhook_id, safe=""), *(quote(part, safe="") for part in rest)])


def _with_secret(answer: dict) -> str:
    webhook = answer["webhook"]
    return (
        f"Webhook {webhook['webhookId']} delivers {', '.join(webhook['events'])} to {webhook['url']}.\n"
        f"Signing secret (shown this once; keep it where the receiver reads it):\n{answer['secret']}"
    )


def _described(webhook: dict) -> str:
    return table([webhook], WEBHOOK_COLUMNS)


event_option = click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(EVENTS),
    help="an event to deliver (repeat it; default: every event, `*`)",
)
description_option = click.option("--description", help="what the endpoint is for")


@click.group("webhooks", short_help="Send the account's events to HTTPS endpoints.")
def webhooks() -> None:
    """Webhook endpoints: the account's events (image pushed, deleted, tag moved,
    scan complete, replication, alias decision) POSTed as signed CloudEvents."""


@webhooks.command("create")
@click.argument("url")
@event_option
@description_option
@click.option("--inactive", is_flag=True, help="create it without delivering yet")
@output_option
@pass_session
def create(session: Session, url: str, events, description, inactive: bool, output: str) -> None:
    """Create a webhook delivering to URL; prints its signing secret, once."""
    body = {"url": url, "active": not inactive}
    if events:
        body["events"] = list(events)
    if description is not None:
        body["description"] = description
    with Activity(f"Creating a webhook for {url}"):
        answer = session.client.post("/webhooks", body)
    emit(answer, output, _with_secret)


@webhooks.command("list")
@output_option
@pass_session
def list_webhooks(session: Session, output: str) -> None:
    """List the account's webhooks."""
    with Activity("Listing webhooks"):
        answer = session.client.get("/webhooks")
    emit(
        answer,
        output,
        lambda answer: table(answer["webhooks"], WEBHOOK_COLUMNS) if answer["webhooks"] else "No webhooks.",
    )


@webhooks.command("describe")
@click.argument("webhook_id")
@output_option
@pass_session
def describe(session: Session, webhook_id: str, output: str) -> None:
    """Describe webhook WEBHOOK_ID."""
    with Activity(f"Describing webhook {webhook_id}"):
        answer = session.client.get(_path(webhook_id))
    emit(answer, output, _described)


@webhooks.command("update")
@click.argument("webhook_id")
@click.option("--url", help="a new URL (checked as at creation)")
@event_option
@description_option
@click.option("--active/--inactive", default=None, help="deliver, or stop delivering")
@output_option
@pass_session
def update(session: Session, webhook_id: str, url, events, description, active, output: str) -> None:
    """Change webhook WEBHOOK_ID: what is given replaces what was."""
    body = {"url": url, "description": description, "active": active, "events": list(events) or None}
    body = {key: value for key, value in body.items() if value is not None}
    if not body:
        raise click.UsageError("nothing to change: give --url, --event, --description or --active/--inactive")
    with Activity(f"Updating webhook {webhook_id}"):
        answer = session.client.patch(_path(webhook_id), body)
    emit(answer, output, _described)


@webhooks.command("delete")
@click.argument("webhook_id")
@pass_session
def delete(session: Session, webhook_id: str) -> None:
    """Delete webhook WEBHOOK_ID and its delivery log."""
    with Activity(f"Deleting webhook {webhook_id}"):
        session.client.delete(_path(webhook_id))
    click.echo(f"Deleted webhook {webhook_id}.")


@webhooks.command("deliveries")
@click.argument("webhook_id")
@output_option
@pass_session
def deliveries(session: Session, webhook_id: str, output: str) -> None:
    """The latest deliveries of WEBHOOK_ID, newest first."""
    with Activity(f"Listing the deliveries of webhook {webhook_id}"):
        answer = session.client.get(_path(webhook_id, "deliveries"))
    emit(
        answer,
        output,
        lambda answer: table(answer["deliveries"], DELIVERY_COLUMNS) if answer["deliveries"] else "No deliveries yet.",
    )


@webhooks.command("redeliver")
@click.argument("webhook_id")
@click.argument("delivery_id")
@output_option
@pass_session
def redeliver(session: Session, webhook_id: str, delivery_id: str, output: str) -> None:
    """Deliver DELIVERY_ID's event again (same CloudEvent id), from the first try."""
    with Activity(f"Redelivering {delivery_id}"):
        answer = session.client.post(_path(webhook_id, "deliveries", delivery_id, "redeliver"))
    emit(answer, output, lambda answer: f"Queued redelivery {answer['delivery']['deliveryId']}.")


@webhooks.command("rotate-secret")
@click.argument("webhook_id")
@output_option
@pass_session
def rotate_secret(session: Session, webhook_id: str, output: str) -> None:
    """Give WEBHOOK_ID a new signing secret; prints it, once."""
    with Activity(f"Rotating the secret of webhook {webhook_id}"):
        answer = session.client.post(_path(webhook_id, "rotate-secret"))
    emit(answer, output, _with_secret)

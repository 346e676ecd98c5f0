"""`berth audit`: the audit trail of the account, as CloudTrail's LookupEvents
shows it, and the questions asked most (who pulled an image, where a tag pointed)."""

from __future__ import annotations

import json

import click

from ..context import Session, pass_session
from ..output import JSON, TABLE, Activity, Column, emit, short_digest, table, when

JSONL = "jsonl"
PAGE_LIMIT = 1000  # the most events the API returns in one page
DEFAULT_MAX_RESULTS = 50
# Where an aggregate record (failed requests from outside the account, counted) keeps its count.
AGGREGATE = "berth:aggregate"


def _principal(record: dict) -> str:
    identity = record.get("userIdentity") or {}
    return identity.get("arn") or identity.get("type") or ""


def _event(record: dict) -> str:
    """The operation; for an aggregate record, with how many failed requests it stands for."""
    aggregate = (record.get("responseElements") or {}).get(AGGREGATE)
    if isinstance(aggregate, dict) and "count" in aggregate:
        return f"{record.get('eventName')} ×{aggregate['count']}"
    return record.get("eventName") or ""


def _repository(record: dict) -> str:
    for resource in record.get("resources") or []:
        arn = resource.get("ARN") or ""
        if ":repository/" in arn:
            return arn.split(":repository/", 1)[1]
    return ""


def _puller(row: dict) -> str:
    principal = row.get("principal") or {}
    return principal.get("arn") or principal.get("type") or ""


EVENT_COLUMNS = [
    Column("Time", "eventTime", when),
    Column("Event", _event),
    Column("Principal", _principal),
    Column("Source IP", "sourceIPAddress"),
    Column("Repository", _repository),
    Column("Error", "errorCode"),
]
PULL_COLUMNS = [
    Column("Principal", _puller),
    Column("Source IP", "sourceIPAddress"),
    Column("Pulls", "pullCount"),
    Column("First pull", "firstPullTime", when),
    Column("Last pull", "lastPullTime", when),
]
PRINCIPAL_PULL_COLUMNS = [
    Column("Registry", "registryId"),
    Column("Repository", "repositoryName"),
    Column("Digest", "imageDigest", short_digest),
    Column("Pulls", "pullCount"),
    Column("Last pull", "lastPullTime", when),
]
TAG_HISTORY_COLUMNS = [
    Column("Time", "eventTime", when),
    Column("Digest", "imageDigest", short_digest),
    Column("Previous", "previousImageDigest", short_digest),
    Column("Principal", "principal"),
    Column("Source IP", "sourceIPAddress"),
]


def _format_option(function):
    return click.option(
        "--output",
        "-o",
        type=click.Choice((TABLE, JSON, JSONL)),
        default=TABLE,
        show_default=True,
        help="table for people, json for programs, jsonl for one record per line",
    )(function)


@click.group(short_help="Look up the audit trail: who did what, to what, from where.")
def audit() -> None:
    """The account's audit trail: every management API call and registry action on its
    repositories or by its principals, newest first. Failed requests from outside the
    account beyond the first few per source, operation and error in a window are
    counted, not listed one by one: one event per window says how many (`×N`)."""


@audit.command(short_help="Look up events by name, principal, repository, image, address or time.")
@click.option("--event-name", help="the operation: BatchGetImage, PutImage, CreateRepository, ...")
@click.option("--principal", help="who acted: an ARN, an IAM user name or an access key id")
@click.option("--repository", help="a repository name")
@click.option("--digest", help="an image digest (sha256:...)")
@click.option("--tag", help="an image tag")
@click.option("--source-ip", help="the caller's address")
@click.option("--start", help="events at or after this time (ISO 8601)")
@click.option("--end", help="events at or before this time (ISO 8601)")
@click.option(
    "--max-results",
    type=click.IntRange(1, PAGE_LIMIT),
    help=f"at most this many events [default: {DEFAULT_MAX_RESULTS}; with --all, the page size]",
)
@click.option("--all", "every", is_flag=True, help="every matching event, page after page")
@_format_option
@pass_session
def lookup(
    session: Session,
    event_name: str | None,
    principal: str | None,
    repository: str | None,
    digest: str | None,
    tag: str | None,
    source_ip: str | None,
    start: str | None,
    end: str | None,
    max_results: int | None,
    every: bool,
    output: str,
) -> None:
    """Events of the account that match every filter given, newest first."""
    params = {
        "event_name": event_name,
        "principal": principal,
        "repository": repository,
        "digest": digest,
        "tag": tag,
        "source_ip": source_ip,
        "start_time": start,
        "end_time": end,
        "max_results": max_results or (PAGE_LIMIT if every else DEFAULT_MAX_RESULTS),
    }
    records: list[dict] = []
    next_token = None
    with Activity("Looking up events", unit="events") as activity:
        while True:
            page = session.client.get("/audit/events", **params, next=next_token)
            events = page.get("events") or []
            activity.advance(len(events))
            if output == JSONL:
                for record in events:
                    click.echo(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
            else:
                records += events
            next_token = page.get("next")
            if not (every and next_token):
                break
    if output != JSONL:
        emit({"events": records, "next": next_token}, output, lambda data: table(data["events"], EVENT_COLUMNS))


def _emit_rows(data: dict, key: str, output: str, columns: list[Column]) -> None:
    if output == JSONL:
        for row in data[key]:
            click.echo(json.dumps(row, separators=(",", ":"), ensure_ascii=False))
    else:
        emit(data, output, lambda shown: table(shown[key], columns))


@audit.command("image-pulls", short_help="Who pulled an image, and from where.")
@click.argument("repository")
@click.argument("digest")
@_format_option
@pass_session
def image_pulls(session: Session, repository: str, digest: str, output: str) -> None:
    """Who pulled the image DIGEST of REPOSITORY, from which addresses, how often and when."""
    with Activity(f"Looking up pulls of {short_digest(digest)}"):
        data = session.client.get("/audit/image-pulls", repository=repository, digest=digest)
    _emit_rows(data, "pulls", output, PULL_COLUMNS)


@audit.command("principal-pulls", short_help="What a principal pulled.")
@click.argument("principal")
@_format_option
@pass_session
def principal_pulls(session: Session, principal: str, output: str) -> None:
    """The images PRINCIPAL (an ARN, an IAM user name or an access key id) pulled, how often and when."""
    with Activity(f"Looking up pulls by {principal}"):
        data = session.client.get("/audit/principal-pulls", principal=principal)
    _emit_rows(data, "pulls", output, PRINCIPAL_PULL_COLUMNS)


@audit.command("tag-history", short_help="Where a tag has pointed, push by push.")
@click.argument("repository")
@click.argument("tag")
@_format_option
@pass_session
def tag_history(session: Session, repository: str, tag: str, output: str) -> None:
    """Every push that moved TAG of REPOSITORY, newest first: the digest before and after, who and from where."""
    with Activity(f"Looking up the history of {repository}:{tag}"):
        data = session.client.get("/audit/tag-history", repository=repository, tag=tag)
    _emit_rows(data, "history", output, TAG_HISTORY_COLUMNS)

"""`berth usage`: what the account stores (now, per repository) and what it served
per day, anonymous and signed-in pulls apart, and each quota's used / limit
(GET /api/v1/usage)."""

from __future__ import annotations

import click

from ..context import Session, pass_session
from ..output import JSON, TABLE, Activity, Column, emit, fields, size, table

MAX_DAYS = 365

ACCOUNT_COLUMNS = [
    Column("Account", "accountId"),
    Column("Repositories", "repositoryCount"),
    Column("Images", "now.imageCount"),
    Column("Referenced", "now.referencedBytes", size),
    Column("Exclusive", "now.exclusiveBytes", size),
]
REPOSITORY_COLUMNS = [
    Column("Repository", "name"),
    Column("Images", "imageCount"),
    Column("Referenced", "referencedBytes", size),
    Column("Exclusive", "exclusiveBytes", size),
    Column("Served", "servedBytes", size),
    Column("Requests", "servedRequests"),
]
SERVED_COLUMNS = [
    Column("Day", "day"),
    Column("Anonymous", "anonymousBytes", size),
    Column("Requests", "anonymousRequests"),
    Column("Signed in", "signedInBytes", size),
    Column("Requests", "signedInRequests"),
]
STORED_COLUMNS = [
    Column("Day", lambda row: f"{row['day']} (now)" if row["live"] else row["day"]),
    Column("Images", "imageCount"),
    Column("Referenced", "referencedBytes", size),
    Column("Exclusive", "exclusiveBytes", size),
]
QUOTA_LABELS = {
    "storageBytes": "Storage",
    "repositories": "Repositories",
    "imagesPerRepository": "Images per repository",
}


def _quota_figure(quota: dict, value: int) -> str:
    return size(value) if quota["name"] == "storageBytes" else str(value)


def _quota_line(quota: dict) -> str:
    """`used / limit`, the limit `unlimited` when there is none; the fullest repository named."""
    limit = "unlimited" if quota["limit"] is None else _quota_figure(quota, quota["limit"])
    line = f"{_quota_figure(quota, quota['used'])} / {limit}"
    return f"{line} ({quota['repository']})" if quota.get("repository") else line


QUOTA_COLUMNS = [
    Column("Quota", lambda row: QUOTA_LABELS.get(row["name"], row["name"])),
    Column("Used / limit", _quota_line),
]


def _render(usage: dict) -> str:
    days = f"{usage['fromDay']} to {usage['toDay']}"
    parts = [fields(usage, ACCOUNT_COLUMNS)]
    if usage.get("quotas"):
        parts.append("Quotas (used / limit)\n" + table(usage["quotas"], QUOTA_COLUMNS))
    if usage["repositories"]:
        parts.append(f"Repositories now (served: {days})\n" + table(usage["repositories"], REPOSITORY_COLUMNS))
    parts.append("Stored per day (daily snapshots)\n" + table(usage["stored"], STORED_COLUMNS))
    parts.append(f"Served per day, UTC ({days})\n" + table(usage["served"], SERVED_COLUMNS))
    return "\n\n".join(parts)


@click.command(short_help="Stored bytes now and per day, and bytes served per day.")
@click.option(
    "--days",
    type=click.IntRange(1, MAX_DAYS),
    default=30,
    show_default=True,
    help="days back, today included",
)
@click.option("--repository", help="one repository's usage (a deleted one's history too)")
@click.option(
    "--output", "-o", type=click.Choice((TABLE, JSON)), default=TABLE, show_default=True, help="table or json"
)
@click.option("--json", "as_json", is_flag=True, help="the same as --output json")
@pass_session
def usage(session: Session, days: int, repository: str | None, output: str, as_json: bool) -> None:
    """The account's stored bytes now (referenced: each blob once; exclusive: what
    deleting would free), its quotas (used / limit), per repository, per day from the daily snapshots, and the
    bytes blob and manifest GETs served per day to anonymous and to signed-in callers."""
    with Activity("Fetching usage"):
        data = session.client.get("/usage", days=days, repository=repository)
    emit(data, JSON if as_json else output, _render)

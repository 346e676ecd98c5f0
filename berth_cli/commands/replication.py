"""`berth registry replication` and `berth registry backfill`: Amazon ECR's
replication configuration, and Berth's back-fills of what existed before a rule."""

from __future__ import annotations

import json
import time

import click

from ..context import Failure, Session, pass_session
from ..output import Activity, Column, emit, output_option, short_digest, table, when

CONFIGURATION_PATH = "/registry/replication-configuration"
BACKFILLS_PATH = "/registry/replication-backfills"
# A back-fill is read again this often while --wait waits.
WAIT_INTERVAL = 1.0

BACKFILL_COLUMNS = [
    Column("Back-fill", "backfillId"),
    Column("Rule", lambda row: "all" if row.get("ruleIndex") is None else row["ruleIndex"]),
    Column("Status", "status"),
    Column("Copies", "total"),
    Column("Started", "startedAt", when),
    Column("Finished", "finishedAt", when),
]
FAILURE_COLUMNS = [
    Column("Repository", "repositoryName"),
    Column("Digest", "imageDigest", short_digest),
    Column("Region", "region"),
    Column("Registry", "registryId"),
    Column("Failure", "failureCode"),
    Column("Reason", "failureReason"),
]


@click.group("replication", short_help="Put and get the registry's replication rules.")
def replication() -> None:
    """Replication rules in Amazon ECR's JSON: each rule's destinations (region and
    registry id; Berth: an endpoint and credentials for another deployment) get the
    images pushed to the repositories its filters match."""


@replication.command("put")
@click.option(
    "--file", "config_file", type=click.File("r"), required=True, help="the configuration's JSON ('-' for stdin)"
)
@output_option
@pass_session
def put(session: Session, config_file, output: str) -> None:
    """Replace the replication configuration: ECR's {"rules": [...]} (or the whole
    PutReplicationConfiguration body, {"replicationConfiguration": {...}})."""
    try:
        document = json.loads(config_file.read())
    except ValueError as exc:
        raise Failure(f"the file is not JSON: {exc}") from None
    if isinstance(document, dict) and "replicationConfiguration" in document:
        document = document["replicationConfiguration"]
    with Activity("Putting the replication configuration"):
        stored = session.client.put(CONFIGURATION_PATH, {"replicationConfiguration": document})
    rules = len(stored["replicationConfiguration"]["rules"])
    emit(stored, output, lambda stored: f"Put the replication configuration ({rules} rule(s)).")


@replication.command("get")
@output_option
@pass_session
def get(session: Session, output: str) -> None:
    """Print the replication configuration (credentials are never shown: only that they are set)."""
    with Activity("Describing the registry"):
        described = session.client.get("/registry")
    emit(described, output, lambda described: json.dumps(described["replicationConfiguration"], indent=2))


@click.group("backfill", short_help="Copy what existed before the replication rules.")
def backfill() -> None:
    """Back-fills: every image of the repositories the rules match is copied to
    their destinations, with progress you can follow and stop."""


def _results(results: dict) -> str:
    lines = [
        f"Back-fill {results['backfillId']}: {results['status']}",
        f"  {results['complete']} complete, {results['failed']} failed, {results['inProgress']} in progress"
        f" of {results['total']}" + (f"; {results['dropped']} dropped by the stop" if results["dropped"] else ""),
    ]
    if results["failures"]:
        lines += ["", table(results["failures"], FAILURE_COLUMNS)]
    return "\n".join(lines)


@backfill.command("start")
@click.option("--rule", "rule_index", type=click.IntRange(0, 9), help="only this rule (from 0); default: all")
@output_option
@pass_session
def start(session: Session, rule_index: int | None, output: str) -> None:
    """Start a back-fill of every rule, or of --rule's."""
    body = {} if rule_index is None else {"ruleIndex": rule_index}
    with Activity("Starting a replication back-fill"):
        started = session.client.post(BACKFILLS_PATH, body)
    emit(started, output, lambda s: f"Started back-fill {s['backfillId']}: {s['total']} copies ({s['status']}).")


@backfill.command("list")
@output_option
@pass_session
def list_(session: Session, output: str) -> None:
    """The latest back-fills, newest first."""
    with Activity("Listing replication back-fills"):
        listed = session.client.get(BACKFILLS_PATH)
    emit(listed, output, lambda listed: table(listed["backfills"], BACKFILL_COLUMNS) or "No back-fill yet.")


@backfill.command("describe")
@click.argument("backfill_id")
@click.option("--wait", is_flag=True, help="wait until it has finished")
@click.option("--timeout", type=click.IntRange(1, 86400), default=3600, show_default=True, help="seconds to wait")
@output_option
@pass_session
def describe(session: Session, backfill_id: str, wait: bool, timeout: int, output: str) -> None:
    """A back-fill's progress and its failed copies."""
    path = f"{BACKFILLS_PATH}/{backfill_id}"
    deadline = time.monotonic() + timeout
    with Activity(f"Reading back-fill {backfill_id}"):
        results = session.client.get(path)
        while wait and results["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise Failure(f"back-fill {backfill_id} is still running after {timeout} s")
            time.sleep(WAIT_INTERVAL)
            results = session.client.get(path)
    emit(results, output, _results)


@backfill.command("stop")
@click.argument("backfill_id")
@output_option
@pass_session
def stop(session: Session, backfill_id: str, output: str) -> None:
    """Stop a back-fill: copies not started are dropped, those under way finish."""
    with Activity(f"Stopping back-fill {backfill_id}"):
        results = session.client.post(f"{BACKFILLS_PATH}/{backfill_id}/stop", {})
    emit(results, output, _results)

"""`berth repo lifecycle`: Amazon ECR's lifecycle policy calls."""

from __future__ import annotations

import time

import click

from ..client import repository_path
from ..context import Session, pass_session
from ..output import Activity, Column, emit, output_option, short_digest, table, when

PREVIEW_COLUMNS = [
    Column("Digest", "imageDigest", short_digest),
    Column("Tags", "imageTags"),
    Column("Pushed", "imagePushedAt", when),
    Column("Last pulled", "lastPulledAt", when),
    Column("Rule", "appliedRulePriority"),
    Column("Also expires", lambda row: len(row.get("alsoExpires") or [])),
]
# A preview Berth has not finished is read again this often while --wait waits.
WAIT_INTERVAL = 1.0


@click.group("lifecycle", short_help="Put, get, delete and preview a repository's lifecycle policy.")
def lifecycle_policy() -> None:
    """A repository's lifecycle policy: rules that expire old or surplus images every
    day, in Amazon ECR's JSON (a policy from ECR's documentation works unchanged)."""


@lifecycle_policy.command("put")
@click.argument("name")
@click.option("--file", "policy_file", type=click.File("r"), required=True, help="the policy's JSON ('-' for stdin)")
@output_option
@pass_session
def put(session: Session, name: str, policy_file, output: str) -> None:
    """Replace NAME's lifecycle policy (validated by the server as ECR validates it)."""
    with Activity(f"Putting the lifecycle policy of {name}"):
        policy = session.client.put(
            repository_path(name, "lifecycle-policy"), {"lifecyclePolicyText": policy_file.read()}
        )
    emit(policy, output, lambda policy: f"Put the lifecycle policy of {policy['repositoryName']}.")


@lifecycle_policy.command("get")
@click.argument("name")
@output_option
@pass_session
def get(session: Session, name: str, output: str) -> None:
    """Print NAME's lifecycle policy, as it was put."""
    with Activity(f"Getting the lifecycle policy of {name}"):
        policy = session.client.get(repository_path(name, "lifecycle-policy"))
    emit(policy, output, lambda policy: policy["lifecyclePolicyText"])


@lifecycle_policy.command("delete")
@click.argument("name")
@pass_session
def delete(session: Session, name: str) -> None:
    """Delete NAME's lifecycle policy."""
    with Activity(f"Deleting the lifecycle policy of {name}"):
        session.client.delete(repository_path(name, "lifecycle-policy"))
    click.echo(f"Deleted the lifecycle policy of {name}.")


def _render_preview(preview: dict) -> str:
    count = preview["summary"]["expiringImageTotalCount"]
    if preview["status"] != "COMPLETE":
        return f"The preview is {preview['status']}."
    if not count:
        return "The policy expires no image now."
    return f"{table(preview['previewResults'], PREVIEW_COLUMNS)}\n\n{count} image(s) would expire."


@lifecycle_policy.command("preview")
@click.argument("name")
@click.option(
    "--file", "policy_file", type=click.File("r"), help="preview this policy instead of NAME's ('-' for stdin)"
)
@click.option("--wait", is_flag=True, help="wait until the preview is complete and print its results")
@output_option
@pass_session
def preview(session: Session, name: str, policy_file, wait: bool, output: str) -> None:
    """Show which images NAME's lifecycle policy (or --file's) would expire now, and by which rule."""
    path = repository_path(name, "lifecycle-policy", "preview")
    body = {"lifecyclePolicyText": policy_file.read()} if policy_file is not None else {}
    with Activity(f"Previewing the lifecycle policy of {name}"):
        started = session.client.post(path, body)
        if not wait and started["status"] != "COMPLETE":
            emit(started, output, lambda started: f"The preview is {started['status']}: run again with --wait.")
            return
        while True:
            page = session.client.get(path, maxResults=1000)
            if page["status"] != "IN_PROGRESS":
                break
            time.sleep(WAIT_INTERVAL)
        results = list(page["previewResults"])
        while page.get("nextToken"):
            page = session.client.get(path, maxResults=1000, nextToken=page["nextToken"])
            results += page["previewResults"]
    emit({**page, "previewResults": results, "nextToken": None}, output, _render_preview)

"""`berth repo policy`: Amazon ECR's repository policy calls."""

from __future__ import annotations

import click

from ..client import repository_path
from ..context import Session, pass_session
from ..output import Activity, emit, output_option


def _policy_text(policy: dict) -> str:
    return policy["policyText"]


@click.group("policy", short_help="Get, set and delete a repository's policy.")
def repository_policy() -> None:
    """A repository's policy: who else (users, roles, other accounts) may act on it."""


@repository_policy.command("get")
@click.argument("name")
@output_option
@pass_session
def get(session: Session, name: str, output: str) -> None:
    """Print NAME's repository policy."""
    with Activity(f"Getting the policy of {name}"):
        policy = session.client.get(repository_path(name, "policy"))
    emit(policy, output, _policy_text)


@repository_policy.command("set")
@click.argument("name")
@click.option("--file", "policy_file", type=click.File("r"), required=True, help="the policy's JSON ('-' for stdin)")
@output_option
@pass_session
def set_(session: Session, name: str, policy_file, output: str) -> None:
    """Replace NAME's repository policy (validated by the server)."""
    with Activity(f"Setting the policy of {name}"):
        policy = session.client.put(repository_path(name, "policy"), {"policyText": policy_file.read()})
    emit(policy, output, lambda policy: f"Set the policy of {policy['repositoryName']}.")


@repository_policy.command("delete")
@click.argument("name")
@pass_session
def delete(session: Session, name: str) -> None:
    """Delete NAME's repository policy."""
    with Activity(f"Deleting the policy of {name}"):
        session.client.delete(repository_path(name, "policy"))
    click.echo(f"Deleted the policy of {name}.")

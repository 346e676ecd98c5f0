"""`berth registry`: settings of the account's registry as a whole.

The group is shared: `berth registry policy` lives here, the repository creation
templates (`berth registry templates`, berth_cli.commands.creation_templates) and
replication attach their own groups to `registry`."""

from __future__ import annotations

import click

from ..context import Session, pass_session
from ..output import Activity, emit, output_option

REGISTRY_POLICY_PATH = "/registry/policy"


@click.group("registry", short_help="The registry's policy, creation templates and replication.")
def registry() -> None:
    """Settings of your account's registry as a whole, as Amazon ECR's registry-level calls."""


@registry.group("policy")
def registry_policy() -> None:
    """The registry policy: which other accounts may replicate into this registry
    (ecr:ReplicateImage) and create the repositories that needs (ecr:CreateRepository)."""


@registry_policy.command("put")
@click.option("--file", "policy_file", type=click.File("r"), required=True, help="the policy's JSON ('-' for stdin)")
@output_option
@pass_session
def put(session: Session, policy_file, output: str) -> None:
    """Replace the registry policy (validated by the server)."""
    with Activity("Putting the registry policy"):
        stored = session.client.put(REGISTRY_POLICY_PATH, {"policyText": policy_file.read()})
    emit(stored, output, lambda stored: f"Put the registry policy of {stored['registryId']}.")


@registry_policy.command("get")
@output_option
@pass_session
def get(session: Session, output: str) -> None:
    """Print the registry policy, as it was put."""
    with Activity("Getting the registry policy"):
        stored = session.client.get(REGISTRY_POLICY_PATH)
    emit(stored, output, lambda stored: stored["policyText"])


@registry_policy.command("delete")
@output_option
@pass_session
def delete(session: Session, output: str) -> None:
    """Delete the registry policy: other accounts may then replicate into this registry no more."""
    with Activity("Deleting the registry policy"):
        deleted = session.client.delete(REGISTRY_POLICY_PATH)
    emit(deleted, output, lambda deleted: f"Deleted the registry policy of {deleted['registryId']}.")

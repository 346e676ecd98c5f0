"""Deciding with an account's registry policy (Amazon ECR's registry permissions):
may another account replicate images into this registry (``ecr:ReplicateImage``),
create the repository a replication or a cache needs (``ecr:CreateRepository``),
import upstream images (``ecr:BatchImportUpstreamImage``)?

The asking party is the *source account* itself, as ECR's replication asks: it is
evaluated as that account's root (``arn:<partition>:iam::<id>:root``), which a
statement grants by naming the account (as its id or root ARN) or ``*``. An
explicit Deny wins; without a policy nothing is granted to another account. An
account needs no registry policy for its own registry.

The policy is written and read through apps.iam.services (put_registry_policy,
delete_registry_policy) and apps.iam.selectors (registry_policy_of)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from apps.kernel.errors import DomainError

from . import policy, selectors


class RegistryPolicyNotFound(DomainError):
    """ECR's RegistryPolicyNotFoundException."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        super().__init__(f"registry {account_id} has no registry policy: put one first (PutRegistryPolicy)")


class RegistryPolicyInvalid(DomainError):
    """A registry policy refused on save; the message names the statement at fault."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explanation: str


def decide(*, account_id: str, principal_account_id: str, action: str, resource_arn: str) -> Decision:
    """Does ``account_id``'s registry policy allow ``principal_account_id`` to do
    ``action`` on ``resource_arn`` (a repository ARN of ``account_id``'s)?"""
    if principal_account_id == account_id:
        return Decision(True, f"account {account_id} acts on its own registry: no registry policy is needed")
    refused = f"no registry policy of account {account_id} allows {action} for {principal_account_id}"
    registry_policy = selectors.registry_policy(account_id)
    if registry_policy is None:
        return Decision(False, f"{refused}: the account has no registry policy")
    partition = settings.BERTH_ARN_PARTITION
    try:
        resource = str(policy.Arn.parse(resource_arn, partition=partition))
    except policy.ArnError as error:
        return Decision(False, f"{refused}: {error}")
    context = policy.RequestContext(
        principal=policy.Principal.root(principal_account_id, partition=partition),
        action=action,
        resource=resource,
        resource_account=account_id,
    )
    decided = policy.evaluate(context, resource_policy=registry_policy)
    if decided.allowed:
        return Decision(True, f"allowed by account {account_id}'s {decided.statement}")
    if decided.reason is policy.Reason.EXPLICIT_DENY:
        return Decision(
            False,
            f"{action} for {principal_account_id} on {resource} is denied by account {account_id}'s "
            f"{decided.statement}",
        )
    return Decision(False, f"{refused} on {resource}")

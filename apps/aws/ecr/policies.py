"""ECR's policy operations: a repository's policy (GetRepositoryPolicy,
SetRepositoryPolicy, DeleteRepositoryPolicy, ECR Public's too: one policy, set with
the `ecr:` actions, whichever API sets it) and the registry's
(GetRegistryPolicy, PutRegistryPolicy, DeleteRegistryPolicy), as the management
API's repository-policy and registry-policy views do them."""

from __future__ import annotations

from apps.iam import selectors, services
from apps.iam.registry_policies import RegistryPolicyInvalid, RegistryPolicyNotFound
from apps.repositories.models import Repository

from .. import protocol
from ..errors import error
from ..operations import Call, domain_errors, operation

domain_errors(
    {
        services.PolicyInvalid: "InvalidParameterException",
        RegistryPolicyInvalid: "InvalidParameterException",
        RegistryPolicyNotFound: "RegistryPolicyNotFoundException",
    }
)


def _repository_policy(repository: Repository, text: str) -> dict:
    return {"registryId": repository.account_id, "repositoryName": repository.name, "policyText": text}


def _no_repository_policy(call: Call, repository: Repository):
    return error(
        "RepositoryPolicyNotFoundException",
        f"Repository policy does not exist for the repository with name '{repository.name}' in the registry with id "
        f"'{call.registry_id}'",
    )


@operation(protocol.ECR, "GetRepositoryPolicy")
@operation(protocol.ECR_PUBLIC, "GetRepositoryPolicy")
def get_repository_policy(call: Call) -> dict:
    repository = call.repository(call.params["repositoryName"], action="ecr:GetRepositoryPolicy")
    call.authorize("ecr:GetRepositoryPolicy", repository=repository)
    stored = selectors.repository_policy_of(repository)
    if stored is None:
        raise _no_repository_policy(call, repository)
    return _repository_policy(repository, stored.document)


@operation(protocol.ECR, "SetRepositoryPolicy")
@operation(protocol.ECR_PUBLIC, "SetRepositoryPolicy")
def set_repository_policy(call: Call) -> dict:
    """ECR's ``force`` sets a policy that would lock its setter out of setting
    another. Berth's account root user is never refused on its own repositories, so
    no policy locks the account out: every policy is set, and ``force`` is recorded."""
    repository = call.repository(call.params["repositoryName"], action="ecr:SetRepositoryPolicy")
    call.authorize("ecr:SetRepositoryPolicy", repository=repository, force=call.params.get("force") or None)
    stored = services.set_repository_policy(
        repository=repository, document=call.params["policyText"], actor=call.actor, context=call.context
    )
    return _repository_policy(repository, stored.document)


@operation(protocol.ECR, "DeleteRepositoryPolicy")
@operation(protocol.ECR_PUBLIC, "DeleteRepositoryPolicy")
def delete_repository_policy(call: Call) -> dict:
    repository = call.repository(call.params["repositoryName"], action="ecr:DeleteRepositoryPolicy")
    call.authorize("ecr:DeleteRepositoryPolicy", repository=repository)
    stored = selectors.repository_policy_of(repository)
    if stored is None or not services.delete_repository_policy(
        repository=repository, actor=call.actor, context=call.context
    ):
        raise _no_repository_policy(call, repository)
    return _repository_policy(repository, stored.document)


# -- the registry's policy -----------------------------------------------------------------


def _registry_policy(call: Call, text: str) -> dict:
    return {"registryId": call.registry_id, "policyText": text}


@operation(protocol.ECR, "GetRegistryPolicy")
def get_registry_policy(call: Call) -> dict:
    call.authorize("ecr:GetRegistryPolicy")
    stored = selectors.registry_policy_of(call.registry_id)
    if stored is None:
        raise RegistryPolicyNotFound(call.registry_id)
    return _registry_policy(call, stored.document)


@operation(protocol.ECR, "PutRegistryPolicy")
def put_registry_policy(call: Call) -> dict:
    call.authorize("ecr:PutRegistryPolicy")
    stored = services.put_registry_policy(
        account=call.account, document=call.params["policyText"], actor=call.actor, context=call.context
    )
    return _registry_policy(call, stored.document)


@operation(protocol.ECR, "DeleteRegistryPolicy")
def delete_registry_policy(call: Call) -> dict:
    call.authorize("ecr:DeleteRegistryPolicy")
    stored = services.delete_registry_policy(account=call.account, actor=call.actor, context=call.context)
    return _registry_policy(call, stored.document)

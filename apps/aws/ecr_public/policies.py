"""ECR Public's repository policies: GetRepositoryPolicy, SetRepositoryPolicy,
DeleteRepositoryPolicy, as the management API's (the `ecr:` actions it authorizes:
a repository's policy is one, whichever API sets it)."""

from __future__ import annotations

from apps.iam import selectors, services
from apps.repositories.models import Repository

from .. import protocol
from ..errors import error
from ..operations import Call, domain_errors, operation

domain_errors({services.PolicyInvalid: "InvalidParameterException"})


def _policy_not_found(call: Call, repository: Repository):
    return error(
        "RepositoryPolicyNotFoundException",
        f"Repository policy does not exist for the repository with name '{repository.name}' in the registry with "
        f"id '{call.registry_id}'",
    )


def _answer(repository: Repository, text: str) -> dict:
    return {"registryId": repository.account_id, "repositoryName": repository.name, "policyText": text}


@operation(protocol.ECR_PUBLIC, "GetRepositoryPolicy")
def get_repository_policy(call: Call) -> dict:
    repository = call.repository(call.params["repositoryName"], action="ecr:GetRepositoryPolicy")
    call.authorize("ecr:GetRepositoryPolicy", repository=repository)
    stored = selectors.repository_policy_of(repository)
    if stored is None:
        raise _policy_not_found(call, repository)
    return _answer(repository, stored.document)


@operation(protocol.ECR_PUBLIC, "SetRepositoryPolicy")
def set_repository_policy(call: Call) -> dict:
    # `force` is for a policy that would lock its setter out: Berth never refuses one
    # for that (the account's root may always change it), so it changes nothing.
    repository = call.repository(call.params["repositoryName"], action="ecr:SetRepositoryPolicy")
    call.authorize("ecr:SetRepositoryPolicy", repository=repository)
    stored = services.set_repository_policy(
        repository=repository, document=call.params["policyText"], actor=call.actor, context=call.context
    )
    return _answer(repository, stored.document)


@operation(protocol.ECR_PUBLIC, "DeleteRepositoryPolicy")
def delete_repository_policy(call: Call) -> dict:
    repository = call.repository(call.params["repositoryName"], action="ecr:DeleteRepositoryPolicy")
    call.authorize("ecr:DeleteRepositoryPolicy", repository=repository)
    stored = selectors.repository_policy_of(repository)
    if stored is None or not services.delete_repository_policy(
        repository=repository, actor=call.actor, context=call.context
    ):
        raise _policy_not_found(call, repository)
    return _answer(repository, stored.document)

"""ECR's pull-through cache rule operations: CreatePullThroughCacheRule,
DescribePullThroughCacheRules, DeletePullThroughCacheRule and
ValidatePullThroughCacheRule (as the management API's
apps/api/replication/cache_views.py).

Upstream credentials. ECR names them by `credentialArn`, a Secrets Manager secret
(`ecr-pullthroughcache/...`) that ECR reads when it pulls. Berth has no Secrets
Manager: a rule keeps the upstream's username and password itself, sealed
(apps.replication.cache_services), and they are set through the management API
(`credentials` of POST/PATCH /api/v1/pull-through-cache-rules) or the console.
So a `credentialArn` (and ECR's IAM-role upstream access, `customRoleArn` and
`upstreamRoleArn`) is refused with InvalidParameterException saying so, never
accepted and ignored; rules are described without one. UpdatePullThroughCacheRule,
which changes nothing but those three, is declared unsupported."""

from __future__ import annotations

from urllib.parse import urlsplit

from apps.replication import cache_selectors, cache_services
from apps.replication.cache_errors import PullThroughCacheRuleAlreadyExists, PullThroughCacheRuleNotFound

from .. import operations, protocol
from ..errors import InvalidParameter
from ..operations import Call, domain_errors, operation
from .lifecycle import offset

domain_errors(
    {
        PullThroughCacheRuleAlreadyExists: "PullThroughCacheRuleAlreadyExistsException",
        PullThroughCacheRuleNotFound: "PullThroughCacheRuleNotFoundException",
    }
)

# DescribePullThroughCacheRules without maxResults: ECR's default page.
DEFAULT_PAGE = 100
CREDENTIALS_REFUSAL = (
    "Berth has no Secrets Manager: {name} cannot be used. A rule keeps its upstream's username and password "
    "itself, sealed; set them with the management API (credentials of POST or PATCH "
    "/api/v1/pull-through-cache-rules) or the console"
)
ROLE_REFUSAL = (
    "Berth signs in to an upstream with the rule's username and password, not with an IAM role: {name} cannot be used"
)
operations.unsupported(
    protocol.ECR,
    ["UpdatePullThroughCacheRule"],
    "it changes only a rule's credentialArn, customRoleArn or upstreamRoleArn, and Berth keeps upstream credentials "
    "itself (sealed) rather than in Secrets Manager and signs in to no upstream with an IAM role; change a rule's "
    "upstream credentials with the management API (PATCH /api/v1/pull-through-cache-rules/<prefix>)",
)

# ECR's UpstreamRegistry, by the upstream's host (suffixes with a leading dot).
_UPSTREAM_REGISTRIES = {
    "registry-1.docker.io": "docker-hub",
    "docker.io": "docker-hub",
    "index.docker.io": "docker-hub",
    "public.ecr.aws": "ecr-public",
    "quay.io": "quay",
    "registry.k8s.io": "k8s",
    "ghcr.io": "github-container-registry",
    ".azurecr.io": "azure-container-registry",
    "registry.gitlab.com": "gitlab-container-registry",
    "cgr.dev": "chainguard",
    ".amazonaws.com": "ecr",
}


def upstream_registry(url: str) -> str | None:
    """ECR's name for the registry at ``url`` (a normalized upstream URL), None
    for a registry ECR has no name for (Berth caches from any registry)."""
    host = (urlsplit(url).hostname or "").lower()
    for known, name in _UPSTREAM_REGISTRIES.items():
        if host == known or (known.startswith(".") and host.endswith(known)):
            if name == "ecr" and ".dkr.ecr." not in host:
                continue
            return name
    return None


def _refuse_aws_credentials(params: dict) -> None:
    if "credentialArn" in params:
        raise InvalidParameter(CREDENTIALS_REFUSAL.format(name="credentialArn"))
    for name in ("customRoleArn", "upstreamRoleArn"):
        if name in params:
            raise InvalidParameter(ROLE_REFUSAL.format(name=name))


def _rule(rule) -> dict:
    """What ECR's operations answer about a rule (never its credentials)."""
    return {
        "registryId": rule.account_id,
        "ecrRepositoryPrefix": rule.ecr_repository_prefix,
        "upstreamRegistryUrl": rule.upstream_registry_url,
        "upstreamRepositoryPrefix": rule.upstream_repository_prefix or cache_services.ROOT,
    }


@operation(protocol.ECR, "CreatePullThroughCacheRule")
def create_pull_through_cache_rule(call: Call) -> dict:
    params = call.params
    _refuse_aws_credentials(params)
    call.authorize("ecr:CreatePullThroughCacheRule", ecrRepositoryPrefix=params["ecrRepositoryPrefix"])
    url = cache_services.normalized_upstream_url(params["upstreamRegistryUrl"])
    named = params.get("upstreamRegistry")
    found = upstream_registry(url)
    if named and found and named != found:
        raise InvalidParameter(f"upstreamRegistry {named} does not match upstreamRegistryUrl {url}, which is {found}'s")
    rule = cache_services.create_pull_through_cache_rule(
        account=call.account,
        ecr_repository_prefix=params["ecrRepositoryPrefix"],
        upstream_registry_url=url,
        upstream_repository_prefix=params.get("upstreamRepositoryPrefix", ""),
        actor=call.actor,
        context=call.context,
    )
    return {**_rule(rule), "upstreamRegistry": named or found, "createdAt": rule.created_at}


@operation(protocol.ECR, "DescribePullThroughCacheRules")
def describe_pull_through_cache_rules(call: Call) -> dict:
    params = call.params
    call.authorize("ecr:DescribePullThroughCacheRules")
    page, end = cache_selectors.rules_page(
        call.account,
        prefixes=params.get("ecrRepositoryPrefixes"),
        start=offset(params.get("nextToken"), "DescribePullThroughCacheRules"),
        limit=params.get("maxResults", DEFAULT_PAGE),
    )
    return {
        "pullThroughCacheRules": [
            {
                **_rule(rule),
                "upstreamRegistry": upstream_registry(rule.upstream_registry_url),
                "createdAt": rule.created_at,
                "updatedAt": rule.updated_at,
            }
            for rule in page
        ],
        "nextToken": None if end is None else str(end),
    }


@operation(protocol.ECR, "DeletePullThroughCacheRule")
def delete_pull_through_cache_rule(call: Call) -> dict:
    prefix = call.params["ecrRepositoryPrefix"]
    call.authorize("ecr:DeletePullThroughCacheRule", ecrRepositoryPrefix=prefix[:100])
    rule = cache_services.delete_pull_through_cache_rule(
        account=call.account, ecr_repository_prefix=prefix, actor=call.actor, context=call.context
    )
    return {**_rule(rule), "createdAt": rule.created_at}


@operation(protocol.ECR, "ValidatePullThroughCacheRule")
def validate_pull_through_cache_rule(call: Call) -> dict:
    prefix = call.params["ecrRepositoryPrefix"]
    call.authorize("ecr:ValidatePullThroughCacheRule", ecrRepositoryPrefix=prefix[:100])
    rule = cache_selectors.rule(call.account, prefix)
    validation = cache_services.validate_pull_through_cache_rule(rule=rule, actor=call.actor, context=call.context)
    return {**_rule(rule), "isValid": validation.is_valid, "failure": validation.failure or None}

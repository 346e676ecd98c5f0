"""The action names a policy may mention, after Amazon ECR's own.

Action names are case-insensitive (as in IAM); a wildcard must match at least one
known action so that a typo is refused instead of silently matching nothing.
"""

from __future__ import annotations

from apps.kernel.wildcards import has_wildcard, wildcard_match

ECR_ACTIONS = frozenset(
    {
        "BatchCheckLayerAvailability",
        "BatchDeleteImage",
        "BatchGetImage",
        "BatchGetRepositoryScanningConfiguration",
        "BatchImportUpstreamImage",
        "CompleteLayerUpload",
        "CreatePullThroughCacheRule",
        "CreateRepository",
        "CreateRepositoryCreationTemplate",
        "DeleteLifecyclePolicy",
        "DeletePullThroughCacheRule",
        "DeleteRegistryPolicy",
        "DeleteRepository",
        "DeleteRepositoryCreationTemplate",
        "DeleteRepositoryPolicy",
        "DescribeImageReplicationStatus",
        "DescribeImageScanFindings",
        "DescribeImages",
        "DescribePullThroughCacheRules",
        "DescribeRegistry",
        "DescribeRepositories",
        "DescribeRepositoryCreationTemplates",
        "GetAccountSetting",
        "GetAuthorizationToken",
        "GetDownloadUrlForLayer",
        "GetLifecyclePolicy",
        "GetLifecyclePolicyPreview",
        "GetRegistryPolicy",
        "GetRegistryScanningConfiguration",
        "GetRepositoryPolicy",
        "InitiateLayerUpload",
        "ListImages",
        "ListTagsForResource",
        "PutAccountSetting",
        "PutImage",
        "PutImageScanningConfiguration",
        "PutImageTagMutability",
        "PutLifecyclePolicy",
        "PutRegistryPolicy",
        "PutRegistryScanningConfiguration",
        "PutReplicationConfiguration",
        "ReplicateImage",
        "SetRepositoryPolicy",
        "StartImageScan",
        "StartLifecyclePolicyPreview",
        "TagResource",
        "UntagResource",
        "UpdatePullThroughCacheRule",
        "UpdateRepositoryCreationTemplate",
        "UploadLayerPart",
        "ValidatePullThroughCacheRule",
    }
    # Berth's own operations in ECR's namespace, beside ECR's replication ones
    # (docs/replication.md): retrying a failed copy, and back-fills.
    | {
        "DescribeReplicationBackfillResults",
        "ListReplicationBackfills",
        "RetryImageReplication",
        "StartReplicationBackfill",
        "StopReplicationBackfill",
    }
)

ECR_PUBLIC_ACTIONS = frozenset(
    {
        "BatchCheckLayerAvailability",
        "BatchDeleteImage",
        "CompleteLayerUpload",
        "CreateRepository",
        "DeleteRepository",
        "DeleteRepositoryPolicy",
        "DescribeImageTags",
        "DescribeImages",
        "DescribeRegistries",
        "DescribeRepositories",
        "GetAuthorizationToken",
        "GetRegistryCatalogData",
        "GetRepositoryCatalogData",
        "GetRepositoryPolicy",
        "InitiateLayerUpload",
        "ListTagsForResource",
        "PutImage",
        "PutRegistryCatalogData",
        "PutRepositoryCatalogData",
        "SetRepositoryPolicy",
        "TagResource",
        "UntagResource",
        "UploadLayerPart",
    }
)

# Berth's own, for what Amazon's services have no action for: asking staff for a custom
# public alias (Amazon grants them through its console), and setting the publisher's profile
# (bio, logo) on the website. Only the root may without a policy.
# An account's webhooks (docs/webhooks.md).
BERTH_ACTIONS = frozenset(
    {
        "RequestAlias",
        "UpdatePublisherProfile",
        "CreateWebhook",
        "DeleteWebhook",
        "DescribeWebhooks",
        "ListWebhookDeliveries",
        "RedeliverWebhook",
        "RotateWebhookSecret",
        "UpdateWebhook",
    }
)

# Roles and temporary credentials speak STS; ECR Public logins need a bearer token.
STS_ACTIONS = frozenset({"AssumeRole", "GetCallerIdentity", "GetServiceBearerToken"})

# Managing users, access keys, roles and policies is itself decided by policy.
IAM_ACTIONS = frozenset(
    {
        "AttachRolePolicy",
        "AttachUserPolicy",
        "CreateAccessKey",
        "CreatePolicy",
        "CreateRole",
        "CreateUser",
        "DeleteAccessKey",
        "DeletePolicy",
        "DeleteRole",
        "DeleteUser",
        "DetachRolePolicy",
        "DetachUserPolicy",
        "GetPolicy",
        "GetRole",
        "GetUser",
        "ListAccessKeys",
        "ListAttachedRolePolicies",
        "ListAttachedUserPolicies",
        "ListPolicies",
        "ListRoles",
        "ListUsers",
        "SimulatePrincipalPolicy",
        "UpdateAccessKey",
        "UpdateAssumeRolePolicy",
    }
)

# The audit trail (apps.audit) answers CloudTrail's look-up.
CLOUDTRAIL_ACTIONS = frozenset({"LookupEvents"})

KNOWN_ACTIONS: dict[str, frozenset[str]] = {
    "ecr": ECR_ACTIONS,
    "ecr-public": ECR_PUBLIC_ACTIONS,
    "sts": STS_ACTIONS,
    "iam": IAM_ACTIONS,
    "cloudtrail": CLOUDTRAIL_ACTIONS,
    "berth": BERTH_ACTIONS,
}

ALL_ACTIONS: tuple[str, ...] = tuple(
    sorted(f"{service}:{name}" for service, names in KNOWN_ACTIONS.items() for name in names)
)


def expand_action_pattern(pattern: str) -> tuple[str, ...]:
    """Every known action the pattern (``*``, ``ecr:*``, ``ecr:Batch*``, ...) matches."""
    return tuple(action for action in ALL_ACTIONS if action_matches(pattern, action))


def validate_action_pattern(pattern: object) -> str:
    """Return the pattern if it names or matches a known action, else raise ``ValueError``."""
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"action must be a non-empty string, not {pattern!r}")
    if pattern == "*":
        return pattern
    service, separator, name = pattern.partition(":")
    if not separator or not name:
        raise ValueError(f"action '{pattern}' must read service:ActionName (for example ecr:BatchGetImage)")
    if service.lower() not in KNOWN_ACTIONS:
        known = ", ".join(sorted(KNOWN_ACTIONS))
        raise ValueError(f"action '{pattern}' names unknown service '{service}' (known: {known})")
    if not expand_action_pattern(pattern):
        if has_wildcard(name):
            raise ValueError(f"action pattern '{pattern}' matches no known {service} action")
        raise ValueError(f"unknown action '{pattern}'")
    return pattern


def action_matches(pattern: str, action: str) -> bool:
    return wildcard_match(pattern, action, ignore_case=True)

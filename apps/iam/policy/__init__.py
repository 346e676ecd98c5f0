"""The IAM policy language and its evaluation, in pure Python (no Django here).

``parse_policy`` validates a document; ``evaluate`` decides a ``RequestContext``
against the caller's identity policies and the resource's policy; ``simulate``
answers "may P do A on R from X" with the decision and the statement behind it.
"""

from apps.kernel.arn import (
    DEFAULT_PARTITION,
    Arn,
    ArnError,
    account_root_arn,
    arn_matches,
    assumed_role_arn,
    repository_arn,
    role_arn,
    user_arn,
)

from .actions import ALL_ACTIONS, KNOWN_ACTIONS, action_matches, expand_action_pattern
from .context import Principal, PrincipalType, RequestContext
from .document import (
    MAX_POLICY_CHARACTERS,
    REGISTRY_ACTIONS,
    Effect,
    Policy,
    PolicyError,
    PolicyKind,
    Statement,
    parse_policy,
)
from .evaluation import Decision, Reason, StatementRef, evaluate, simulate

__all__ = [
    "ALL_ACTIONS",
    "DEFAULT_PARTITION",
    "KNOWN_ACTIONS",
    "MAX_POLICY_CHARACTERS",
    "Arn",
    "ArnError",
    "Decision",
    "Effect",
    "REGISTRY_ACTIONS",
    "Policy",
    "PolicyError",
    "PolicyKind",
    "Principal",
    "PrincipalType",
    "Reason",
    "RequestContext",
    "Statement",
    "StatementRef",
    "account_root_arn",
    "action_matches",
    "arn_matches",
    "assumed_role_arn",
    "evaluate",
    "expand_action_pattern",
    "parse_policy",
    "repository_arn",
    "role_arn",
    "simulate",
    "user_arn",
]

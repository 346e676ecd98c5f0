"""Parsing and validating IAM JSON policy documents.

A policy is validated when it is saved: malformed JSON, unknown elements, unknown
actions, bad ARNs and principals are refused with a ``PolicyError`` that names the
statement at fault (by its position, counted from 1 in the message, and its Sid).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from apps.kernel import json_limits
from apps.kernel.arn import (
    ACCOUNT_ID_RE,
    DEFAULT_PARTITION,
    Arn,
    ArnError,
    account_root_arn,
    normalize_arn_pattern,
)
from apps.kernel.wildcards import has_wildcard

from .actions import action_matches, validate_action_pattern
from .conditions import ConditionClause, parse_condition_block

MAX_POLICY_CHARACTERS = 10_240
# A valid policy nests six levels at most (Statement, a statement, Condition, an
# operator, a key, its values); deeper text is refused before it is parsed.
MAX_POLICY_DEPTH = 16
VERSIONS = ("2012-10-17", "2008-10-17")
POLICY_ELEMENTS = frozenset({"Version", "Id", "Statement"})
STATEMENT_ELEMENTS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
PRINCIPAL_RESOURCE_TYPES = ("root", "user/", "role/", "assumed-role/")


class PolicyKind(StrEnum):
    IDENTITY = "identity"  # attached to a user or role: no Principal, Resource required
    RESOURCE = "resource"  # attached to a repository: Principal required, Resource optional
    # A registry's policy (ECR's registry permissions): grants other accounts what they do
    # to this registry as accounts (replicate into it, create a repository for that), so
    # its principals are accounts, its Resource is required and it names only those actions.
    REGISTRY = "registry"


# What a registry policy may grant (ECR refuses a registry policy naming anything else).
REGISTRY_ACTIONS = ("ecr:BatchImportUpstreamImage", "ecr:CreateRepository", "ecr:ReplicateImage")


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


class PolicyError(ValueError):
    """A refused policy. ``statement_index`` counts from 0; the message counts from 1."""

    def __init__(self, message: str, *, statement_index: int | None = None, sid: str | None = None):
        self.detail = message
        self.statement_index = statement_index
        self.sid = sid
        if statement_index is not None:
            where = f"Statement {statement_index + 1}" + (f' (Sid "{sid}")' if sid else "")
            message = f"{where}: {message}"
        super().__init__(message)


@dataclass(frozen=True)
class PrincipalSpec:
    """The value of ``Principal``/``NotPrincipal``: everyone, or a set of ARNs.

    Account ids are stored as the account's root ARN, and every ARN in the
    configured partition.
    """

    everyone: bool
    arns: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Statement:
    index: int
    sid: str | None
    effect: Effect
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...] | None  # None: the resource the policy is attached to
    not_resource: bool
    principal: PrincipalSpec | None
    not_principal: bool
    conditions: tuple[ConditionClause, ...]


@dataclass(frozen=True)
class Policy:
    name: str
    kind: PolicyKind
    version: str
    statements: tuple[Statement, ...]
    text: str


def _reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise PolicyError(f"duplicate element '{key}'")
        result[key] = value
    return result


def _as_list(value: object, element: str) -> list[object]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError(f"{element} must not be empty")
    return items


def parse_policy(
    text: str,
    *,
    kind: PolicyKind = PolicyKind.IDENTITY,
    name: str = "policy",
    partition: str = DEFAULT_PARTITION,
    principal_exists: Callable[[str], bool] | None = None,
) -> Policy:
    """Parse and validate a policy document.

    ``principal_exists`` receives each principal ARN a resource policy names (in
    the configured partition, accounts as their root ARN) and says whether it exists.
    """
    if not isinstance(text, str):
        raise PolicyError("policy must be JSON text")
    if len(text) > MAX_POLICY_CHARACTERS:
        raise PolicyError(f"policy is {len(text)} characters long; the limit is {MAX_POLICY_CHARACTERS}")
    try:
        document = json_limits.loads(text, max_depth=MAX_POLICY_DEPTH, object_pairs_hook=_reject_duplicate_keys)
    except json_limits.JSONTooDeep as error:
        raise PolicyError(f"policy {error}") from None
    except json.JSONDecodeError as error:
        raise PolicyError(f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    if not isinstance(document, dict):
        raise PolicyError("policy must be a JSON object")
    # Principals are looked up, and PostgreSQL refuses a query holding NUL.
    if (where := json_limits.nul_path(text, document)) is not None:
        raise PolicyError(f"{where} holds a NUL character")
    unknown = sorted(set(document) - POLICY_ELEMENTS)
    if unknown:
        raise PolicyError(f"unknown policy element(s): {', '.join(unknown)}")
    version = document.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise PolicyError(f"Version must be one of {', '.join(VERSIONS)}, not {version!r}")
    if "Statement" not in document:
        raise PolicyError("policy has no Statement")
    raw_statements = document["Statement"]
    raw_statements = raw_statements if isinstance(raw_statements, list) else [raw_statements]
    if not raw_statements:
        raise PolicyError("Statement must hold at least one statement")
    statements = []
    seen_sids: set[str] = set()
    for index, raw in enumerate(raw_statements):
        sid = raw.get("Sid") if isinstance(raw, dict) and isinstance(raw.get("Sid"), str) else None
        try:
            statement = _parse_statement(index, raw, kind, partition, principal_exists)
        except (ValueError, ArnError) as error:
            message = error.detail if isinstance(error, PolicyError) else str(error)
            raise PolicyError(message, statement_index=index, sid=sid) from None
        if statement.sid:
            if statement.sid in seen_sids:
                raise PolicyError(
                    f"Sid '{statement.sid}' is used by an earlier statement", statement_index=index, sid=sid
                )
            seen_sids.add(statement.sid)
        statements.append(statement)
    return Policy(name=name, kind=kind, version=version, statements=tuple(statements), text=text)


def _one_of(raw: dict, positive: str, negative: str, *, required: bool) -> tuple[object | None, bool]:
    if positive in raw and negative in raw:
        raise ValueError(f"a statement takes {positive} or {negative}, not both")
    if positive in raw:
        return raw[positive], False
    if negative in raw:
        return raw[negative], True
    if required:
        raise ValueError(f"statement has no {positive} (or {negative})")
    return None, False


def _parse_statement(
    index: int, raw: object, kind: PolicyKind, partition: str, principal_exists: Callable[[str], bool] | None
) -> Statement:
    if not isinstance(raw, dict):
        raise ValueError("a statement must be a JSON object")  # noqa: TRY004
    unknown = sorted(set(raw) - STATEMENT_ELEMENTS)
    if unknown:
        raise ValueError(f"unknown statement element(s): {', '.join(unknown)}")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise ValueError("Sid must be a string")
    effect = raw.get("Effect")
    if effect not in (Effect.ALLOW.value, Effect.DENY.value):
        raise ValueError(f'Effect must be "Allow" or "Deny", not {effect!r}')

    raw_actions, not_action = _one_of(raw, "Action", "NotAction", required=True)
    element = "NotAction" if not_action else "Action"
    actions = tuple(validate_action_pattern(item) for item in _as_list(raw_actions, element))

    if kind is PolicyKind.REGISTRY:
        for pattern in actions:
            if not any(action_matches(pattern, action) for action in REGISTRY_ACTIONS):
                raise ValueError(
                    f"a registry policy grants only {', '.join(REGISTRY_ACTIONS)}; '{pattern}' names none of them"
                )

    raw_resources, not_resource = _one_of(
        raw, "Resource", "NotResource", required=kind in (PolicyKind.IDENTITY, PolicyKind.REGISTRY)
    )
    resources = None
    if raw_resources is not None:
        element = "NotResource" if not_resource else "Resource"
        resources = tuple(
            normalize_arn_pattern(item, partition=partition)
            if isinstance(item, str)
            else _fail(f"{element} values must be strings")
            for item in _as_list(raw_resources, element)
        )

    principal = None
    not_principal = False
    if kind is PolicyKind.IDENTITY:
        if "Principal" in raw or "NotPrincipal" in raw:
            raise ValueError("an identity policy cannot name a Principal; it applies to whoever it is attached to")
    else:
        raw_principal, not_principal = _one_of(raw, "Principal", "NotPrincipal", required=True)
        principal = _parse_principal(raw_principal, partition, principal_exists)
        if kind is PolicyKind.REGISTRY:
            _only_accounts(principal)
        if not_principal and principal.everyone:
            raise ValueError('NotPrincipal cannot be "*"')

    conditions: tuple[ConditionClause, ...] = ()
    if "Condition" in raw:
        conditions = parse_condition_block(raw["Condition"], partition=partition)

    return Statement(
        index=index,
        sid=sid or None,
        effect=Effect(effect),
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        principal=principal,
        not_principal=not_principal,
        conditions=conditions,
    )


def _only_accounts(principal: PrincipalSpec) -> None:
    for arn in sorted(principal.arns):
        if not arn.endswith(":root"):
            raise ValueError(
                f"a registry policy's principals are accounts (an account id or arn:aws:iam::<id>:root), not '{arn}'"
            )


def _fail(message: str) -> str:
    raise ValueError(message)


def _parse_principal(raw: object, partition: str, principal_exists: Callable[[str], bool] | None) -> PrincipalSpec:
    if raw == "*":
        return PrincipalSpec(everyone=True)
    if not isinstance(raw, dict) or not raw:
        raise ValueError('Principal must be "*" or {"AWS": account id, ARN or list of them}')
    unsupported = sorted(set(raw) - {"AWS"})
    if unsupported:
        raise ValueError(f"unsupported principal type(s): {', '.join(unsupported)} (only AWS is supported)")
    values = _as_list(raw["AWS"], "Principal AWS")
    if "*" in values:
        if len(values) > 1:
            raise ValueError('Principal "*" cannot be combined with other principals')
        return PrincipalSpec(everyone=True)
    arns = set()
    for value in values:
        arn = _principal_arn(value, partition)
        if principal_exists is not None and not principal_exists(arn):
            raise ValueError(f"principal '{value}' does not exist")
        arns.add(arn)
    return PrincipalSpec(everyone=False, arns=frozenset(arns))


def _principal_arn(value: object, partition: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"principal {value!r} must be a string")  # noqa: TRY004
    if ACCOUNT_ID_RE.match(value):
        return account_root_arn(value, partition=partition)
    if has_wildcard(value):
        raise ValueError(f"principal '{value}' cannot hold wildcards (use \"*\" for everyone)")
    try:
        arn = Arn.parse(value, partition=partition)
    except ArnError as error:
        raise ValueError(f"invalid principal: {error}") from None
    expected_service = "sts" if arn.resource.startswith("assumed-role/") else "iam"
    if (
        arn.service != expected_service
        or arn.region
        or not arn.account
        or not (arn.resource == "root" or arn.resource.startswith(PRINCIPAL_RESOURCE_TYPES[1:]))
        or arn.resource.endswith("/")
    ):
        raise ValueError(
            f"invalid principal '{value}': expected an account id or an "
            "iam::<account>:root, :user/<name>, :role/<name> or sts::<account>:assumed-role/<role>/<session> ARN"
        )
    return str(arn)

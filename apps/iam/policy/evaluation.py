"""Deciding a request the way IAM does.

1. Anonymous callers are never authorized by policy. (Anonymous pulls of public
   repositories are granted by the registry before policies are consulted.)
2. An explicit ``Deny`` in any applicable policy wins.
3. Within one account, an ``Allow`` in the caller's identity policies or in the
   resource policy suffices. The account's root user has every identity right in
   its own account.
4. Across accounts, the resource policy must allow the caller (by ``*``, by its
   account, or by its own ARN) and the caller's identity policies must allow too.

A resource policy that names an *account* delegates to that account: it lets the
account's principals in only as far as their identity policies allow, also in the
resource's own account. Naming ``*`` or the caller's own ARN grants directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum

from apps.kernel.arn import arn_matches

from .actions import action_matches
from .conditions import conditions_hold
from .context import Principal, RequestContext
from .document import Effect, Policy, PolicyKind, Statement


class Reason(StrEnum):
    EXPLICIT_DENY = "explicit_deny"
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit_deny"


@dataclass(frozen=True)
class StatementRef:
    policy: str
    index: int  # counted from 0
    sid: str | None

    def __str__(self) -> str:
        label = f'Sid "{self.sid}"' if self.sid else f"statement {self.index + 1}"
        return f"{self.policy}: {label}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: Reason
    statements: tuple[StatementRef, ...] = ()  # what decided: a cross-account allow names both sides
    explanation: str = ""

    @property
    def statement(self) -> StatementRef | None:
        return self.statements[0] if self.statements else None


class _PrincipalMatch(Enum):
    DIRECT = "direct"
    ACCOUNT = "account"


def _principal_match(statement: Statement, principal: Principal) -> _PrincipalMatch | None:
    spec = statement.principal
    if spec is None:  # identity policy: applies to its holder
        return _PrincipalMatch.DIRECT
    if spec.everyone or principal.arn in spec.arns or principal.principal_arn in spec.arns:
        named = _PrincipalMatch.DIRECT
    elif principal.account_arn in spec.arns:
        named = _PrincipalMatch.DIRECT if principal.is_root else _PrincipalMatch.ACCOUNT
    else:
        named = None
    if statement.not_principal:
        return None if named else _PrincipalMatch.DIRECT
    return named


def _applies(statement: Statement, context: RequestContext, keys: Mapping[str, tuple[object, ...]]) -> bool:
    if any(action_matches(pattern, context.action) for pattern in statement.actions) == statement.not_action:
        return False
    if statement.resources is not None:
        named = any(arn_matches(pattern, context.resource) for pattern in statement.resources)
        if named == statement.not_resource:
            return False
    return conditions_hold(statement.conditions, keys)


def _matching(
    policy: Policy, effect: Effect, context: RequestContext, keys: Mapping[str, tuple[object, ...]]
) -> Iterable[tuple[Statement, _PrincipalMatch]]:
    for statement in policy.statements:
        if statement.effect is not effect:
            continue
        match = _principal_match(statement, context.principal)
        if match is not None and _applies(statement, context, keys):
            yield statement, match


def _ref(policy: Policy, statement: Statement) -> StatementRef:
    return StatementRef(policy.name, statement.index, statement.sid)


def evaluate(
    context: RequestContext,
    *,
    identity_policies: Sequence[Policy] = (),
    resource_policy: Policy | None = None,
) -> Decision:
    for policy in identity_policies:
        if policy.kind is not PolicyKind.IDENTITY:
            raise ValueError(f"policy '{policy.name}' is a {policy.kind} policy, not an identity policy")
    if resource_policy is not None and resource_policy.kind not in (PolicyKind.RESOURCE, PolicyKind.REGISTRY):
        raise ValueError(f"policy '{resource_policy.name}' is not a resource policy")

    principal = context.principal
    if principal.is_anonymous:
        return Decision(False, Reason.IMPLICIT_DENY, explanation="anonymous callers are never authorized by policy")

    keys = context.condition_keys()
    every_policy = [*identity_policies, *([resource_policy] if resource_policy else [])]
    for policy in every_policy:
        for statement, _ in _matching(policy, Effect.DENY, context, keys):
            return Decision(
                False,
                Reason.EXPLICIT_DENY,
                (_ref(policy, statement),),
                f"explicitly denied by {_ref(policy, statement)}",
            )

    identity_allow = next(
        (
            _ref(policy, statement)
            for policy in identity_policies
            for statement, _ in _matching(policy, Effect.ALLOW, context, keys)
        ),
        None,
    )
    identity_allowed = principal.is_root or identity_allow is not None
    identity_refs = (identity_allow,) if identity_allow else ()

    direct_allow = delegated_allow = None
    if resource_policy is not None:
        for statement, match in _matching(resource_policy, Effect.ALLOW, context, keys):
            if match is _PrincipalMatch.DIRECT:
                direct_allow = direct_allow or _ref(resource_policy, statement)
            else:
                delegated_allow = delegated_allow or _ref(resource_policy, statement)
    resource_allow = direct_allow or delegated_allow

    if context.effective_resource_account == principal.account_id:
        if identity_allow:
            return Decision(True, Reason.ALLOW, identity_refs, f"allowed by {identity_allow}")
        if direct_allow:
            return Decision(True, Reason.ALLOW, (direct_allow,), f"allowed by {direct_allow}")
        if principal.is_root:
            return Decision(True, Reason.ALLOW, (), "the account's root user may act on its own account")
        if delegated_allow:
            return Decision(
                False, Reason.IMPLICIT_DENY, (), f"{delegated_allow} names the account, and no identity policy allows"
            )
        return Decision(False, Reason.IMPLICIT_DENY, (), "no statement allows this request")

    if resource_allow is None:
        return Decision(
            False,
            Reason.IMPLICIT_DENY,
            identity_refs,
            "cross-account request: the resource policy does not grant this principal",
        )
    if not identity_allowed:
        return Decision(
            False,
            Reason.IMPLICIT_DENY,
            (resource_allow,),
            "cross-account request: the caller's identity policies do not allow",
        )
    why = f"allowed by {resource_allow}" + (f" and {identity_allow}" if identity_allow else "")
    return Decision(True, Reason.ALLOW, (resource_allow, *identity_refs), why)


def simulate(
    principal: Principal,
    action: str,
    resource: str = "*",
    *,
    source_ip: str | None = None,
    identity_policies: Sequence[Policy] = (),
    resource_policy: Policy | None = None,
    **context: object,
) -> Decision:
    """May ``principal`` do ``action`` on ``resource`` from ``source_ip``?

    Further ``RequestContext`` fields (``current_time``, ``resource_tags``, ...)
    pass through ``context``.
    """
    request = RequestContext(principal=principal, action=action, resource=resource, source_ip=source_ip, **context)  # type: ignore[arg-type]
    return evaluate(request, identity_policies=identity_policies, resource_policy=resource_policy)

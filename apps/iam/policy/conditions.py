"""The ``Condition`` element: operators, ``...IfExists``, ``ForAnyValue``/``ForAllValues``.

Semantics follow IAM:

* several operators in a block, and several keys under one operator, must all hold;
  several values for one key are alternatives (any may match);
* a negated operator (``StringNotEquals``, ``NotIpAddress``, ``ArnNotLike``, ...)
  holds when the request value matches none of the policy values;
* a key missing from the request makes a positive operator false and a negated one
  true, unless ``...IfExists`` (then true) or ``Null`` (which tests presence);
* ``ForAllValues`` holds when every request value matches (and when the key is
  missing or empty); ``ForAnyValue`` when at least one does (false when missing).
  A multi-valued key under a plain operator behaves as ``ForAnyValue`` for a
  positive operator and as "no value matches" for a negated one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from apps.kernel.arn import DEFAULT_PARTITION, arn_matches, normalize_partition
from apps.kernel.wildcards import wildcard_match

# Condition keys whose values are ARNs: their policy values read arn:aws: as the
# configured partition even under the String operators.
ARN_VALUED_KEYS = frozenset({"aws:principalarn", "aws:sourcearn"})

SET_QUALIFIERS = ("ForAnyValue", "ForAllValues")


def _parse_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ValueError(f"value {value!r} is not a string")


def _parse_number(value: object) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")  # noqa: TRY004 - a refused policy value, not a programming error
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"{value!r} is not a number") from None


def _parse_date(value: object) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(float(value), tz=UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            moment = datetime.fromtimestamp(int(text), tz=UTC)
        else:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"{value!r} is not an ISO 8601 date or epoch seconds") from None
    else:
        raise ValueError(f"{value!r} is not a date")  # noqa: TRY004
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"{value!r} is not true or false")


def _parse_network(value: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or CIDR range") from None


def _parse_address(value: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(str(value))


@dataclass(frozen=True)
class _Operator:
    """``parse`` turns a policy value into its comparable form (and validates it);
    ``coerce`` does the same for a request value (failing means no match);
    ``test(request, policy)`` is the positive comparison."""

    parse: Callable[[object], object]
    coerce: Callable[[object], object]
    test: Callable[[object, object], bool]
    negated: bool = False


def _string_op(test: Callable[[str, str], bool], negated: bool = False) -> _Operator:
    return _Operator(_parse_string, _parse_string, test, negated)


def _numeric_op(test: Callable[[Decimal, Decimal], bool], negated: bool = False) -> _Operator:
    return _Operator(_parse_number, _parse_number, test, negated)


def _date_op(test: Callable[[datetime, datetime], bool], negated: bool = False) -> _Operator:
    return _Operator(_parse_date, _parse_date, test, negated)


def _arn_op(negated: bool = False) -> _Operator:
    # ArnEquals and ArnLike behave alike in IAM: both take wildcards per segment.
    return _Operator(_parse_string, _parse_string, lambda request, policy: arn_matches(policy, request), negated)


def _equals(a: object, b: object) -> bool:
    return a == b


def _ignore_case(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def _like(request: str, policy: str) -> bool:
    return wildcard_match(policy, request)


def _in_network(request: object, policy: object) -> bool:
    return request.version == policy.version and request in policy  # type: ignore[attr-defined]


OPERATORS: Mapping[str, _Operator] = {
    "StringEquals": _string_op(_equals),
    "StringNotEquals": _string_op(_equals, negated=True),
    "StringEqualsIgnoreCase": _string_op(_ignore_case),
    "StringNotEqualsIgnoreCase": _string_op(_ignore_case, negated=True),
    "StringLike": _string_op(_like),
    "StringNotLike": _string_op(_like, negated=True),
    "NumericEquals": _numeric_op(_equals),
    "NumericNotEquals": _numeric_op(_equals, negated=True),
    "NumericLessThan": _numeric_op(lambda r, p: r < p),
    "NumericLessThanEquals": _numeric_op(lambda r, p: r <= p),
    "NumericGreaterThan": _numeric_op(lambda r, p: r > p),
    "NumericGreaterThanEquals": _numeric_op(lambda r, p: r >= p),
    "DateEquals": _date_op(_equals),
    "DateNotEquals": _date_op(_equals, negated=True),
    "DateLessThan": _date_op(lambda r, p: r < p),
    "DateLessThanEquals": _date_op(lambda r, p: r <= p),
    "DateGreaterThan": _date_op(lambda r, p: r > p),
    "DateGreaterThanEquals": _date_op(lambda r, p: r >= p),
    "Bool": _Operator(_parse_bool, _parse_bool, _equals),
    "BinaryEquals": _string_op(_equals),
    "IpAddress": _Operator(_parse_network, _parse_address, _in_network),
    "NotIpAddress": _Operator(_parse_network, _parse_address, _in_network, negated=True),
    "ArnEquals": _arn_op(),
    "ArnLike": _arn_op(),
    "ArnNotEquals": _arn_op(negated=True),
    "ArnNotLike": _arn_op(negated=True),
}

NULL_OPERATOR = "Null"


@dataclass(frozen=True)
class ConditionClause:
    """One operator applied to one key with its alternative values."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    base: str  # e.g. "StringLike" or "Null"
    qualifier: str | None
    if_exists: bool
    key: str  # as written
    values: tuple[object, ...]

    def holds(self, request_keys: Mapping[str, tuple[object, ...]]) -> bool:
        request_values = request_keys.get(self.key.lower(), ())
        if self.base == NULL_OPERATOR:
            absent = len(request_values) == 0
            return any(expected == absent for expected in self.values)
        if not request_values:
            if self.if_exists or self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return OPERATORS[self.base].negated
        operator = OPERATORS[self.base]
        matches = [self._matches_any(operator, value) for value in request_values]
        if self.qualifier == "ForAllValues":
            return all(match != operator.negated for match in matches)
        if self.qualifier == "ForAnyValue":
            return any(match != operator.negated for match in matches)
        return not any(matches) if operator.negated else any(matches)

    def _matches_any(self, operator: _Operator, request_value: object) -> bool:
        try:
            comparable = operator.coerce(request_value)
        except (ValueError, TypeError):
            return False
        return any(operator.test(comparable, policy_value) for policy_value in self.values)


def _split_operator(name: str) -> tuple[str | None, str, bool]:
    qualifier = None
    base = name
    if ":" in name:
        qualifier, _, base = name.partition(":")
        if qualifier not in SET_QUALIFIERS:
            raise ValueError(f"unknown set operator '{qualifier}' in '{name}' (use ForAnyValue or ForAllValues)")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    if base == NULL_OPERATOR:
        if qualifier or if_exists:
            raise ValueError(f"'{name}': Null takes neither a set operator nor IfExists")
    elif base not in OPERATORS:
        raise ValueError(f"unknown condition operator '{name}'")
    return qualifier, base, if_exists


def parse_condition_block(block: object, *, partition: str = DEFAULT_PARTITION) -> tuple[ConditionClause, ...]:
    if not isinstance(block, dict) or not block:
        raise ValueError("Condition must be a non-empty object of operator: {key: value(s)}")
    clauses = []
    for operator_name, keys in block.items():
        qualifier, base, if_exists = _split_operator(operator_name)
        if not isinstance(keys, dict) or not keys:
            raise ValueError(f"condition '{operator_name}' must map condition keys to values")
        for key, raw_values in keys.items():
            if ":" not in key or key.startswith(":") or key.endswith(":"):
                raise ValueError(f"condition key '{key}' must read service:Key (for example aws:SourceIp)")
            items = raw_values if isinstance(raw_values, list) else [raw_values]
            if not items:
                raise ValueError(f"condition '{operator_name}' gives no value for '{key}'")
            parse = _parse_bool if base == NULL_OPERATOR else OPERATORS[base].parse
            try:
                values = tuple(parse(item) for item in items)
            except ValueError as error:
                raise ValueError(f"condition '{operator_name}' on '{key}': {error}") from None
            if base.startswith("Arn") or key.lower() in ARN_VALUED_KEYS:
                values = tuple(_normalize_arn_value(value, partition) for value in values)
            clauses.append(ConditionClause(operator_name, base, qualifier, if_exists, key, values))
    return tuple(clauses)


def _normalize_arn_value(value: object, partition: str) -> object:
    if isinstance(value, str) and value.startswith("arn:"):
        parts = value.split(":", 2)
        if len(parts) == 3:
            return f"arn:{normalize_partition(parts[1], partition)}:{parts[2]}"
    return value


def conditions_hold(clauses: tuple[ConditionClause, ...], request_keys: Mapping[str, tuple[object, ...]]) -> bool:
    return all(clause.holds(request_keys) for clause in clauses)

"""Amazon ECR's lifecycle policy language, parsed and validated: pure Python, no
database. ``parse`` turns the policy text into rules or raises LifecyclePolicyInvalid
with the message ECR gives for the same mistake, so that a policy ECR accepts is
accepted here unchanged and one it refuses is refused for the same reason.

Berth's one extension is a rule whose action is ``keep`` (ECR's actions are
``expire`` and ``transition``, so no ECR policy contains it): the images it selects
that were pulled within ``countNumber`` days are kept whatever the expire rules say
(docs/lifecycle.md)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property

from apps.kernel.errors import DomainError

MIN_LENGTH = 100
MAX_LENGTH = 30_720
MAX_WILDCARDS = 4

TAGGED, UNTAGGED, ANY = "tagged", "untagged", "any"
TAG_STATUSES = (TAGGED, UNTAGGED, ANY)
IMAGE_COUNT_MORE_THAN = "imageCountMoreThan"
SINCE_IMAGE_PUSHED = "sinceImagePushed"
SINCE_IMAGE_PULLED = "sinceImagePulled"
COUNT_TYPES = (IMAGE_COUNT_MORE_THAN, SINCE_IMAGE_PUSHED, SINCE_IMAGE_PULLED)
EXPIRE = "expire"
KEEP = "keep"
ACTIONS = (EXPIRE, KEEP)

_PREFIX = "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
_RULE_PROPERTIES = ("rulePriority", "description", "selection", "action")
_SELECTION_PROPERTIES = (
    "tagStatus",
    "tagPrefixList",
    "tagPatternList",
    "storageClass",
    "countType",
    "countUnit",
    "countNumber",
)
_INT32_MAX = 2**31 - 1


class LifecyclePolicyInvalid(DomainError):
    """A lifecycle policy text ECR would refuse (its InvalidParameterException)."""

    def __init__(self, reason: str, *, validation: bool = True) -> None:
        self.reason = reason
        if validation:
            super().__init__(f"{_PREFIX}'Lifecycle policy validation failure: {reason}'")
        else:
            super().__init__(f"{_PREFIX}'{reason}'")


@dataclass(frozen=True)
class Rule:
    priority: int
    description: str
    tag_status: str
    tag_prefixes: tuple[str, ...]
    tag_patterns: tuple[str, ...]
    count_type: str
    count_number: int
    action: str

    @cached_property
    def _patterns(self) -> tuple[re.Pattern[str], ...]:
        return tuple(
            re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)
            for pattern in self.tag_patterns
        )

    def selects(self, tags: tuple[str, ...]) -> bool:
        """ECR's tag selection: every prefix (or pattern) of the rule must match one
        of the image's tags, not necessarily the same one."""
        if self.tag_status == ANY:
            return True
        if self.tag_status == UNTAGGED:
            return not tags
        if not tags:
            return False
        return all(any(tag.startswith(prefix) for tag in tags) for prefix in self.tag_prefixes) and all(
            any(pattern.fullmatch(tag) for tag in tags) for pattern in self._patterns
        )


def _type_name(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _expect(value, kind: str):
    if _type_name(value) != kind:
        raise LifecyclePolicyInvalid(
            f'instance type ({_type_name(value)}) does not match any allowed primitive type (allowed: ["{kind}"])'
        )
    return value


def _object(value, required: tuple[str, ...], allowed: tuple[str, ...]) -> dict:
    _expect(value, "object")
    missing = sorted(name for name in required if name not in value)
    if missing:
        raise LifecyclePolicyInvalid(f"object has missing required properties ({json.dumps(missing)})")
    extra = sorted(name for name in value if name not in allowed)
    if extra:
        raise LifecyclePolicyInvalid(
            f"object instance has properties which are not allowed by the schema: ({json.dumps(extra)})"
        )
    return value


def _enum(value, choices: tuple[str, ...]) -> str:
    _expect(value, "string")
    # ECR's documentation spells tagStatus in lower case, its API reference in upper case: both are taken.
    for choice in choices:
        if value == choice or value == choice.upper():
            return choice
    raise LifecyclePolicyInvalid(
        f'instance value ("{value}") not found in enum (possible values: {json.dumps(choices)})'
    )


def _integer(value, minimum: int) -> int:
    _expect(value, "integer")
    if value < minimum:
        raise LifecyclePolicyInvalid(
            f"numeric instance is lower than the required minimum (minimum: {minimum}, found: {value})"
        )
    if value > _INT32_MAX:
        raise LifecyclePolicyInvalid(
            f"numeric instance is greater than the required maximum (maximum: {_INT32_MAX}, found: {value})"
        )
    return value


def _strings(value, name: str) -> tuple[str, ...]:
    _expect(value, "array")
    if not value:
        raise LifecyclePolicyInvalid(f"{name} can not be empty")
    for item in value:
        _expect(item, "string")
        if not item:
            raise LifecyclePolicyInvalid(f"{name} can not contain an empty string")
    return tuple(value)


def _rule(raw) -> Rule:
    raw = _object(raw, ("rulePriority", "selection", "action"), _RULE_PROPERTIES)
    priority = _integer(raw["rulePriority"], 1)
    description = _expect(raw.get("description", ""), "string")
    action = _object(raw["action"], ("type",), ("type",))
    action_type = _enum(action["type"], ACTIONS)
    selection = _object(raw["selection"], ("tagStatus", "countType", "countNumber"), _SELECTION_PROPERTIES)
    tag_status = _enum(selection["tagStatus"], TAG_STATUSES)
    if "storageClass" in selection and _enum(selection["storageClass"], ("standard", "archive")) != "standard":
        # ECR's archive tier: Berth stores every image alike, so only standard images exist to select.
        raise LifecyclePolicyInvalid("storageClass archive is not supported: this registry has no archive tier.")
    prefixes = _strings(selection["tagPrefixList"], "tagPrefixList") if "tagPrefixList" in selection else ()
    patterns = _strings(selection["tagPatternList"], "tagPatternList") if "tagPatternList" in selection else ()
    if tag_status == TAGGED and not prefixes and not patterns:
        raise LifecyclePolicyInvalid("Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED.")
    if tag_status != TAGGED and (prefixes or patterns):
        raise LifecyclePolicyInvalid(
            f"tagPrefixList and tagPatternList can only be specified when tagStatus=TAGGED, not {tag_status.upper()}."
        )
    if prefixes and patterns:
        raise LifecyclePolicyInvalid("tagPrefixList and tagPatternList cannot both be specified in one rule.")
    for pattern in patterns:
        if pattern.count("*") > MAX_WILDCARDS:
            raise LifecyclePolicyInvalid(
                f"tagPatternList entry {pattern} has {pattern.count('*')} wildcards; at most {MAX_WILDCARDS} are allowed."
            )
    count_type = _enum(selection["countType"], COUNT_TYPES)
    count_number = _integer(selection["countNumber"], 1)
    if count_type == IMAGE_COUNT_MORE_THAN:
        if "countUnit" in selection:
            raise LifecyclePolicyInvalid("countUnit is not allowed when countType=imageCountMoreThan.")
    else:
        if "countUnit" not in selection:
            raise LifecyclePolicyInvalid(f"countUnit is required when countType={count_type}.")
        _enum(selection["countUnit"], ("days",))
    if action_type == KEEP and count_type != SINCE_IMAGE_PULLED:
        raise LifecyclePolicyInvalid(
            f"a rule whose action is keep selects images pulled recently: its countType must be {SINCE_IMAGE_PULLED}."
        )
    return Rule(
        priority=priority,
        description=description,
        tag_status=tag_status,
        tag_prefixes=prefixes,
        tag_patterns=patterns,
        count_type=count_type,
        count_number=count_number,
        action=action_type,
    )


def parse(text: str) -> list[Rule]:
    """The policy's rules in the order they apply (lowest rulePriority first)."""
    if len(text) < MIN_LENGTH:
        raise LifecyclePolicyInvalid(f"Member must have length greater than or equal to {MIN_LENGTH}", validation=False)
    if len(text) > MAX_LENGTH:
        raise LifecyclePolicyInvalid(f"Member must have length less than or equal to {MAX_LENGTH}", validation=False)
    try:
        document = json.loads(text)
    except ValueError:
        raise LifecyclePolicyInvalid("Could not map policyString into LifecyclePolicy.") from None
    document = _object(document, ("rules",), ("rules",))
    raw_rules = _expect(document["rules"], "array")
    if not raw_rules:
        raise LifecyclePolicyInvalid("array is too short: must have at least 1 elements but instance has 0 elements")
    rules = sorted((_rule(raw) for raw in raw_rules), key=lambda rule: rule.priority)
    priorities = [rule.priority for rule in rules]
    duplicates = sorted({p for p in priorities if priorities.count(p) > 1})
    if duplicates:
        raise LifecyclePolicyInvalid(f"rulePriority must be unique: {', '.join(map(str, duplicates))} is given twice.")
    expiring = [rule for rule in rules if rule.action == EXPIRE]
    if sum(rule.tag_status == UNTAGGED for rule in expiring) > 1:
        raise LifecyclePolicyInvalid("Only one rule can select Untagged images per storage class")
    any_rules = [rule for rule in expiring if rule.tag_status == ANY]
    if len(any_rules) > 1 or (any_rules and expiring[-1] is not any_rules[0]):
        raise LifecyclePolicyInvalid("Rule for tagStatus=ANY must have the lowest priority per storage class")
    return rules

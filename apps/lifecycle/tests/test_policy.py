"""The policy language: ECR's documented policies parse unchanged; what ECR refuses
is refused with ECR's message."""

from __future__ import annotations

import json

import pytest

from apps.lifecycle import policy
from apps.lifecycle.policy import LifecyclePolicyInvalid

from . import ecr_examples

pytestmark = pytest.mark.database_independent

PREFIX = (
    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: "
)


def text(*rules: dict) -> str:
    return json.dumps({"rules": list(rules)}, indent=2)


def rule(priority: int = 1, action: str = "expire", **selection) -> dict:
    selection = {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1, **selection}
    return {
        "rulePriority": priority,
        "description": "a rule of a test",
        "selection": selection,
        "action": {"type": action},
    }


@pytest.mark.parametrize(
    "example",
    [
        ecr_examples.AGE_TAGGED,
        ecr_examples.AGE_UNTAGGED,
        ecr_examples.COUNT_UNTAGGED,
        *(example for example, _, _ in ecr_examples.EXAMPLES.values()),
    ],
)
def test_ecr_documented_policies_parse(example):
    rules = policy.parse(example)
    assert [r.priority for r in rules] == sorted(r.priority for r in rules)
    assert all(r.action == policy.EXPIRE for r in rules)


def test_the_standard_storage_class_is_the_only_one_and_may_be_named():
    [only] = policy.parse(text(rule(storageClass="standard")))
    assert only.tag_status == "untagged"


def test_the_rules_come_in_priority_order_and_keep_what_they_say():
    [first, second] = policy.parse(
        text(
            rule(7, tagStatus="TAGGED", tagPatternList=["v*-rc*"], countType="sinceImagePushed", countUnit="days"),
            rule(3),
        )
    )
    assert (first.priority, first.tag_status, second.priority) == (3, "untagged", 7)
    assert (second.tag_status, second.tag_patterns, second.count_type) == ("tagged", ("v*-rc*",), "sinceImagePushed")
    assert second.selects(("v1-rc2",)) and not second.selects(("v1",))


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("x" * 120, "Could not map policyString into LifecyclePolicy."),
        (json.dumps({"rulez": []}).ljust(120), 'object has missing required properties (["rules"])'),
        (text(rule(tagStatus="tagged")), "Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED."),
        (
            text(rule(tagStatus="untagged", tagPrefixList=["v"])),
            "tagPrefixList and tagPatternList can only be specified when tagStatus=TAGGED, not UNTAGGED.",
        ),
        (text(rule(countNumber=0)), "numeric instance is lower than the required minimum (minimum: 1, found: 0)"),
        (text(rule(countUnit="days")), "countUnit is not allowed when countType=imageCountMoreThan."),
        (text(rule(countType="sinceImagePushed")), "countUnit is required when countType=sinceImagePushed."),
        (
            text(rule(countType="sinceImagePulled", countUnit="weeks")),
            'instance value ("weeks") not found in enum (possible values: ["days"])',
        ),
        (text(rule(1), rule(1, tagStatus="any")), "rulePriority must be unique: 1 is given twice."),
        (text(rule(1), rule(2)), "Only one rule can select Untagged images per storage class"),
        (
            text(rule(1, tagStatus="any"), rule(2, tagStatus="tagged", tagPrefixList=["v"])),
            "Rule for tagStatus=ANY must have the lowest priority per storage class",
        ),
        (
            text(rule(tagStatus="tagged", tagPatternList=["a*b*c*d*e*f"])),
            "tagPatternList entry a*b*c*d*e*f has 5 wildcards; at most 4 are allowed.",
        ),
        (
            text(rule(tagStatus="tagged", tagPatternList=["a*"], tagPrefixList=["a"])),
            "tagPrefixList and tagPatternList cannot both be specified in one rule.",
        ),
        (
            text(rule(tagStatus="sometimes")),
            'instance value ("sometimes") not found in enum (possible values: ["tagged", "untagged", "any"])',
        ),
        (
            text(rule(action="transition")),
            'instance value ("transition") not found in enum (possible values: ["expire", "keep"])',
        ),
        (
            text(rule(countNumber="3")),
            'instance type (string) does not match any allowed primitive type (allowed: ["integer"])',
        ),
        (
            text({**rule(), "storage": 1}),
            'object instance has properties which are not allowed by the schema: (["storage"])',
        ),
        (
            text(rule(storageClass="archive")),
            "storageClass archive is not supported: this registry has no archive tier.",
        ),
        (
            text(rule(action="keep")),
            "a rule whose action is keep selects images pulled recently: its countType must be sinceImagePulled.",
        ),
    ],
)
def test_what_ecr_refuses_is_refused_with_its_message(document, reason):
    with pytest.raises(LifecyclePolicyInvalid) as refused:
        policy.parse(document)
    assert refused.value.message == f"{PREFIX}{reason}'"


def test_the_length_is_100_to_30720_characters():
    with pytest.raises(LifecyclePolicyInvalid, match="greater than or equal to 100"):
        policy.parse('{"rules": []}')
    long = text({**rule(), "description": "d" * 31_000})
    with pytest.raises(LifecyclePolicyInvalid, match="less than or equal to 30720"):
        policy.parse(long)
    policy.parse(text(rule()).ljust(30_720))


def test_four_wildcards_are_allowed_and_a_keep_rule_may_come_after_an_any_rule():
    rules = policy.parse(
        text(
            rule(1, tagStatus="tagged", tagPatternList=["*test*1*2*3", "test*1*2*3*"]),
            rule(2, tagStatus="any", countNumber=50),
            rule(3, action="keep", tagStatus="any", countType="sinceImagePulled", countUnit="days", countNumber=30),
        )
    )
    assert [r.action for r in rules] == ["expire", "expire", "keep"]

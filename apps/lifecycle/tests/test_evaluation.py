"""Evaluation as ECR documents it, and Berth's keep rules and whole-image expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from apps.lifecycle import policy
from apps.lifecycle.evaluation import Image, build_content, evaluate, plan

from . import ecr_examples

pytestmark = pytest.mark.database_independent

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def images(repository: dict) -> list[Image]:
    return [Image(name, tags, ago(days)) for name, (tags, days) in repository.items()]


def expired(text: str, repository: list[Image]) -> dict[str, int]:
    return {digest: rule.priority for digest, rule in evaluate(policy.parse(text), repository, NOW).items()}


@pytest.mark.parametrize("name", sorted(ecr_examples.EXAMPLES))
def test_the_user_guides_examples_expire_what_the_guide_says(name):
    text, repository, outcome = ecr_examples.EXAMPLES[name]
    assert set(expired(text, images(repository))) == outcome


def test_multiple_rules_a_expires_with_the_rule_that_saw_the_image_first():
    text, repository, _ = ecr_examples.EXAMPLES["multiple-rules-a"]
    assert expired(text, images(repository)) == {"A": 1}


def test_age_count_and_untagged_examples():
    repository = [
        Image("old-prod", ("prod-1",), ago(20)),
        Image("new-prod", ("prod-2",), ago(3)),
        Image("old-dev", ("dev-1",), ago(20)),
        Image("old-untagged", (), ago(15)),
        Image("untagged", (), ago(13)),
        Image("newest-untagged", (), ago(1)),
    ]
    assert set(expired(ecr_examples.AGE_TAGGED, repository)) == {"old-prod"}
    assert set(expired(ecr_examples.AGE_UNTAGGED, repository)) == {"old-untagged"}
    assert set(expired(ecr_examples.COUNT_UNTAGGED, repository)) == {"old-untagged", "untagged"}


def _text(*rules) -> str:
    return json.dumps({"rules": list(rules)}).ljust(100)


def _rule(priority, action="expire", **selection):
    return {"rulePriority": priority, "selection": selection, "action": {"type": action}}


def test_since_image_pulled_counts_from_the_push_of_an_image_never_pulled():
    repository = [
        Image("pulled-lately", ("a",), ago(90), last_pulled_at=ago(2)),
        Image("pulled-long-ago", ("b",), ago(90), last_pulled_at=ago(40)),
        Image("never-pulled-old", ("c",), ago(40)),
        Image("never-pulled-new", ("d",), ago(5)),
    ]
    text = _text(_rule(1, tagStatus="any", countType="sinceImagePulled", countUnit="days", countNumber=30))
    assert set(expired(text, repository)) == {"pulled-long-ago", "never-pulled-old"}


def test_a_keep_rule_protects_images_pulled_within_its_days_from_every_expire_rule():
    repository = [Image(f"i{n}", (f"v{n}",), ago(10 - n), last_pulled_at=ago(1) if n == 0 else None) for n in range(5)]
    count = _rule(1, tagStatus="tagged", tagPrefixList=["v"], countType="imageCountMoreThan", countNumber=2)
    keep = _rule(9, "keep", tagStatus="any", countType="sinceImagePulled", countUnit="days", countNumber=7)
    assert set(expired(_text(count), repository)) == {"i0", "i1", "i2"}
    # The kept image still counts among the images the count rule identifies: it is not replaced by a younger one.
    assert set(expired(_text(count, keep), repository)) == {"i1", "i2"}


def test_an_image_is_expired_by_one_rule_and_the_any_rule_comes_last():
    repository = [
        Image("a1", ("alpha-1",), ago(4)),
        Image("u1", (), ago(3)),
        Image("a2", ("alpha-2",), ago(2)),
        Image("g", ("git-hash",), ago(1.5)),
        Image("u2", (), ago(0.5)),
    ]
    text = _text(
        _rule(1, tagStatus="tagged", tagPatternList=["alpha*"], countType="imageCountMoreThan", countNumber=1),
        _rule(2, tagStatus="untagged", countType="sinceImagePushed", countUnit="days", countNumber=1),
        _rule(3, tagStatus="any", countType="imageCountMoreThan", countNumber=1),
    )
    # The any rule keeps only u2, the newest, but cannot expire a2, which rule 1 kept.
    assert expired(text, repository) == {"a1": 1, "u1": 2, "g": 3}


def test_tag_patterns_match_whole_tags_with_up_to_four_wildcards():
    [rule] = policy.parse(
        _text(
            _rule(1, tagStatus="tagged", tagPatternList=["*test*1*2*3"], countType="imageCountMoreThan", countNumber=1)
        )
    )
    assert rule.selects(("my-test-1-2-3",))
    assert not rule.selects(("my-test-1-2-3-4x",))
    assert not rule.selects(("test.1.2",))


def test_an_index_takes_its_unshared_untagged_children_and_every_manifest_its_referrers():
    manifests = [
        ("index-old", ago(10), None, ""),
        ("index-new", ago(1), None, ""),
        ("amd64-old", ago(10), None, ""),
        ("arm64-shared", ago(10), None, ""),
        ("amd64-tagged", ago(10), None, ""),
        ("sig-of-index", ago(9), None, "index-old"),
        ("sbom-of-amd64", ago(9), None, "amd64-old"),
        ("sig-of-sbom", ago(9), None, "sbom-of-amd64"),
        ("orphan-referrer", ago(30), None, "gone"),
    ]
    tags = [("index-new", "latest"), ("amd64-tagged", "pinned")]
    edges = [
        ("index-old", "amd64-old"),
        ("index-old", "arm64-shared"),
        ("index-old", "amd64-tagged"),
        ("index-new", "arm64-shared"),
    ]
    content = build_content(manifests, tags, edges)
    assert sorted(image.digest for image in content.images) == ["index-new", "index-old"]
    text = _text(_rule(1, tagStatus="untagged", countType="sinceImagePushed", countUnit="days", countNumber=5))
    expiries = plan(content, evaluate(policy.parse(text), content.images, NOW))
    assert [(e.image.digest, e.deletions) for e in expiries] == [
        ("index-old", ("sig-of-index", "index-old", "sig-of-sbom", "sbom-of-amd64", "amd64-old"))
    ]


def test_a_child_of_two_expired_indexes_goes_with_the_second():
    manifests = [("i1", ago(10), None, ""), ("i2", ago(9), None, ""), ("child", ago(10), None, "")]
    content = build_content(manifests, [], [("i1", "child"), ("i2", "child")])
    text = _text(_rule(1, tagStatus="untagged", countType="sinceImagePushed", countUnit="days", countNumber=5))
    expiries = plan(content, evaluate(policy.parse(text), content.images, NOW))
    assert [e.deletions for e in expiries] == [("i1",), ("i2", "child")]

"""Which images a lifecycle policy expires: pure Python over a snapshot of the
repository, so the preview and the daily run decide alike and the decision can be
tested without a database.

ECR's evaluation (docs: "Lifecycle policy evaluation rules"): every rule selects
the images its tag selection matches and, of those, marks the ones its count
(``imageCountMoreThan``: all but the newest N by push time) or age
(``sinceImagePushed`` / ``sinceImagePulled``: older than N days) condemns. Rules
apply in rulePriority order; an image is expired by at most one rule, and an image
a higher-priority rule's tag selection matched cannot be expired by a lower one,
although it still counts among the images that lower rule identifies.

Berth's additions: ``keep`` rules protect the images they select that were pulled
within N days, whatever the priority of the expire rule; and expiry works on whole
images of the repository (``plan``): the top-level manifests are the images, an
index takes its platform manifests that nothing else keeps, and every manifest
takes its referrers (signatures, SBOMs, attestations)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .policy import EXPIRE, IMAGE_COUNT_MORE_THAN, KEEP, SINCE_IMAGE_PULLED, SINCE_IMAGE_PUSHED, Rule


@dataclass(frozen=True)
class Image:
    """A top-level manifest as a rule sees it."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    last_pulled_at: datetime | None = None


def _older(moment: datetime, cutoff: datetime) -> bool:
    return moment < cutoff


def evaluate(rules: Sequence[Rule], images: Iterable[Image], now: datetime) -> dict[str, Rule]:
    """The images the rules expire, each with the rule that expires it."""
    # Newest first, so that a count rule keeps the head of the list; the digest breaks ties stably.
    newest_first = sorted(images, key=lambda image: (image.pushed_at, image.digest), reverse=True)
    kept = set()
    for rule in rules:
        if rule.action == KEEP:
            cutoff = now - timedelta(days=rule.count_number)
            kept.update(
                image.digest
                for image in newest_first
                if image.last_pulled_at is not None
                and not _older(image.last_pulled_at, cutoff)
                and rule.selects(image.tags)
            )
    seen: set[str] = set()
    expired: dict[str, Rule] = {}
    for rule in rules:
        if rule.action != EXPIRE:
            continue
        matched = [image for image in newest_first if rule.selects(image.tags)]
        if rule.count_type == IMAGE_COUNT_MORE_THAN:
            condemned = matched[rule.count_number :]
        else:
            cutoff = now - timedelta(days=rule.count_number)
            if rule.count_type == SINCE_IMAGE_PUSHED:
                condemned = [image for image in matched if _older(image.pushed_at, cutoff)]
            else:
                assert rule.count_type == SINCE_IMAGE_PULLED
                # ECR: an image never pulled counts from its push.
                condemned = [image for image in matched if _older(image.last_pulled_at or image.pushed_at, cutoff)]
        for image in condemned:
            if image.digest not in seen and image.digest not in kept:
                expired[image.digest] = rule
        seen.update(image.digest for image in matched)
    return expired


@dataclass
class Content:
    """A repository's manifests as lifecycle sees them, by digest: the tags, who
    lists whom (index → platform manifests) and who refers to whom (subject ←
    referrers). ``images`` are the top-level manifests: listed by no index of the
    repository and referring to no other manifest."""

    images: list[Image]
    tags: dict[str, tuple[str, ...]]
    children: dict[str, list[str]] = field(default_factory=dict)
    parents: dict[str, set[str]] = field(default_factory=dict)
    referrers: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Expiry:
    """One image to expire and everything that goes with it, in an order the
    registry deletes them in (referrers, then the image, then freed platform
    manifests, each after its own referrers)."""

    image: Image
    rule: Rule
    deletions: tuple[str, ...]


def plan(content: Content, expired: dict[str, Rule]) -> list[Expiry]:
    """The expiries, oldest image first. A platform manifest goes with the last of
    its indexes to expire, and only when it has no tag of its own; a referrer goes
    with its subject (and its own referrers with it)."""
    gone: set[str] = set()
    expiries = []
    for image in sorted(
        (image for image in content.images if image.digest in expired), key=lambda i: (i.pushed_at, i.digest)
    ):
        deletions: list[str] = []
        _take(image.digest, content, gone, deletions)
        expiries.append(Expiry(image=image, rule=expired[image.digest], deletions=tuple(deletions)))
    return expiries


def _take(digest: str, content: Content, gone: set[str], deletions: list[str]) -> None:
    if digest in gone:
        return
    gone.add(digest)
    for referrer in content.referrers.get(digest, ()):
        _take(referrer, content, gone, deletions)
    deletions.append(digest)
    for child in content.children.get(digest, ()):
        if child not in gone and not content.tags.get(child) and content.parents.get(child, set()) <= gone:
            _take(child, content, gone, deletions)


def build_content(
    manifests: Iterable[tuple[str, datetime, datetime | None, str]],
    tags: Iterable[tuple[str, str]],
    edges: Iterable[tuple[str, str]],
) -> Content:
    """Content from (digest, pushed_at, last_pulled_at, subject_digest) rows, (digest,
    tag) rows and (index digest, child digest) rows."""
    tags_of: dict[str, list[str]] = defaultdict(list)
    for digest, tag in tags:
        tags_of[digest].append(tag)
    children: dict[str, list[str]] = defaultdict(list)
    parents: dict[str, set[str]] = defaultdict(set)
    for parent, child in edges:
        children[parent].append(child)
        parents[child].add(parent)
    rows = list(manifests)
    present = {row[0] for row in rows}
    referrers: dict[str, list[str]] = defaultdict(list)
    images = []
    for digest, pushed_at, last_pulled_at, subject in rows:
        if subject:
            if subject in present:
                referrers[subject].append(digest)
            continue  # a referrer is never an image of its own: it goes with its subject
        if digest in parents:
            continue
        images.append(Image(digest, tuple(sorted(tags_of.get(digest, ()))), pushed_at, last_pulled_at))
    return Content(
        images=images,
        tags={digest: tuple(sorted(names)) for digest, names in tags_of.items()},
        children=dict(children),
        parents=dict(parents),
        referrers=dict(referrers),
    )

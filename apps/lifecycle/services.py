"""Every write of lifecycle: the policy (Put/Delete), the preview, and the run that
expires what the policy condemns.

A run evaluates a snapshot of the repository (``evaluation``), then deletes image
by image through the registry's ``delete_image``, a chunk of images per
transaction, as the system actor ``lifecycle``. Inside that transaction each
image is checked again against the snapshot: an image whose tags changed or that
was pulled since the evaluation is left for the next run, so a tag moved onto an
old image, or a pull a keep rule counts, is never lost to a stale decision. Each
expired image is one audit event, ``PolicyExecutionEvent`` (the name of ECR's
CloudTrail event for lifecycle actions), naming the rule that expired it; the
registry publishes ``image.deleted`` for each manifest deleted."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.audit import events
from apps.audit import services as audit_services
from apps.audit.events import Actor
from apps.kernel.requests import RequestContext
from apps.registry import selectors as registry_selectors
from apps.registry import services as registry_services
from apps.registry.models import Manifest, Tag
from apps.repositories.models import Repository

from . import policy, selectors
from .evaluation import Content, Expiry, evaluate, plan
from .exceptions import LifecyclePolicyNotFound
from .models import LifecyclePolicy, LifecyclePreview, PreviewStatus

logger = logging.getLogger(__name__)

LIFECYCLE = Actor.system("lifecycle")
EXPIRY_CHUNK = 100


def _parameters(repository: Repository, **more) -> dict:
    return {"registryId": repository.account_id, "repositoryName": repository.name, **more}


def put_lifecycle_policy(
    *, repository: Repository, text: str, actor: Actor, context: RequestContext | None = None
) -> LifecyclePolicy:
    """PutLifecyclePolicy: the text is validated as ECR validates it and kept as given."""
    policy.parse(text)
    with transaction.atomic():
        stored, _ = LifecyclePolicy.objects.update_or_create(repository=repository, defaults={"text": text})
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="PutLifecyclePolicy",
            recipient_account_id=repository.account_id,
            repository=repository.name,
            request_parameters=_parameters(repository, lifecyclePolicyText=text),
        )
    return stored


def delete_lifecycle_policy(
    *, repository: Repository, actor: Actor, context: RequestContext | None = None
) -> LifecyclePolicy:
    """DeleteLifecyclePolicy: returns the policy as it was."""
    with transaction.atomic():
        stored = LifecyclePolicy.objects.select_for_update().filter(repository=repository).first()
        if stored is None:
            raise LifecyclePolicyNotFound(repository.name)
        stored.delete()
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="DeleteLifecyclePolicy",
            recipient_account_id=repository.account_id,
            repository=repository.name,
            request_parameters=_parameters(repository),
        )
    return stored


# -- evaluation ------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def preview_result(expiry: Expiry) -> dict:
    """One image of ECR's previewResults, with Berth's lastPulledAt and the
    referrers and platform manifests that go with it."""
    image = expiry.image
    return {
        "imageTags": list(image.tags),
        "imageDigest": image.digest,
        "imagePushedAt": _iso(image.pushed_at),
        "lastPulledAt": _iso(image.last_pulled_at),
        "action": {"type": "EXPIRE"},
        "appliedRulePriority": expiry.rule.priority,
        "alsoExpires": [digest for digest in expiry.deletions if digest != image.digest],
    }


def expiries(*, rules: list[policy.Rule], content: Content, now: datetime) -> list[Expiry]:
    """What the rules expire in the content, in the order a run expires it."""
    return plan(content, evaluate(rules, content.images, now))


def start_lifecycle_policy_preview(
    *,
    repository: Repository,
    text: str | None = None,
    actor: Actor,
    context: RequestContext | None = None,
    now: datetime | None = None,
) -> LifecyclePreview:
    """StartLifecyclePolicyPreview of ``text``, or of the repository's policy when no
    text is given. Evaluation of a snapshot takes well under a second for 10,000
    images (bench/lifecycle_eval.py), so the preview is computed here and is
    COMPLETE when this returns."""
    if text is None:
        stored = selectors.policy_of(repository)
        if stored is None:
            raise LifecyclePolicyNotFound(repository.name)
        text = stored.text
    rules = policy.parse(text)
    now = now or timezone.now()
    results = [
        preview_result(expiry) for expiry in expiries(rules=rules, content=selectors.content_of(repository), now=now)
    ]
    with transaction.atomic():
        preview, _ = LifecyclePreview.objects.update_or_create(
            repository=repository,
            defaults={
                "text": text,
                "status": PreviewStatus.COMPLETE,
                "results": results,
                "started_at": now,
                "completed_at": timezone.now(),
            },
        )
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="StartLifecyclePolicyPreview",
            recipient_account_id=repository.account_id,
            repository=repository.name,
            request_parameters=_parameters(repository, lifecyclePolicyText=text),
            response_elements={"status": preview.status},
        )
    return preview


# -- the run -----------------------------------------------------------------------------


@dataclass
class RunResult:
    """What a run did: the images it expired (digests, oldest first), every manifest
    it deleted, and the images it left because they changed since the evaluation."""

    expired: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def run_lifecycle_policy(*, repository: Repository, now: datetime | None = None) -> RunResult:
    """Expire what the repository's policy condemns now (the daily beat, or
    `berth lifecycle run`). A repository without a policy is left alone."""
    stored = selectors.policy_of(repository)
    result = RunResult()
    if stored is None:
        return result
    now = now or timezone.now()
    rules = policy.parse(stored.text)
    planned = expiries(rules=rules, content=selectors.content_of(repository), now=now)
    for start in range(0, len(planned), EXPIRY_CHUNK):
        _expire_chunk(repository, planned[start : start + EXPIRY_CHUNK], result)
    LifecyclePolicy.objects.filter(repository=repository).update(last_evaluated_at=now)
    if planned:
        logger.info(
            "lifecycle of %s: %d images expired (%d manifests), %d left because they changed",
            repository,
            len(result.expired),
            len(result.deleted),
            len(result.skipped),
        )
    return result


def _expire_chunk(repository: Repository, chunk: list[Expiry], result: RunResult) -> None:
    with transaction.atomic():
        digests = [expiry.image.digest for expiry in chunk]
        current = {
            digest: last_pulled_at
            for digest, last_pulled_at in Manifest.objects.select_for_update()
            .filter(repository=repository, digest__in=digests)
            .values_list("digest", "last_pulled_at")
        }
        current_tags: dict[str, set[str]] = {}
        for digest, name in Tag.objects.filter(repository=repository, manifest__digest__in=digests).values_list(
            "manifest__digest", "name"
        ):
            current_tags.setdefault(digest, set()).add(name)
        drafts = []
        for expiry in chunk:
            image = expiry.image
            unchanged = (
                image.digest in current
                and current[image.digest] == image.last_pulled_at
                and current_tags.get(image.digest, set()) == set(image.tags)
            )
            deleted = _expire(repository, expiry) if unchanged else None
            if deleted is None:
                result.skipped.append(image.digest)
                continue
            result.expired.append(image.digest)
            result.deleted += deleted
            draft = events.unstarted(
                LIFECYCLE,
                None,
                event_name="PolicyExecutionEvent",
                event_source="ecr",
                recipient_account_id=repository.account_id,
                repository=repository.name,
                request_parameters=_parameters(
                    repository,
                    imageDigest=image.digest,
                    imageTags=list(image.tags),
                    imagePushedAt=_iso(image.pushed_at),
                    lastPulledAt=_iso(image.last_pulled_at),
                    imageActionType="EXPIRE",
                    rulePriority=expiry.rule.priority,
                ),
            )
            draft.response_elements = {"deletedImageDigests": deleted}
            drafts.append(draft)
        audit_services.record_many(drafts)


def _delete(repository: Repository, digest: str) -> bool:
    try:
        with transaction.atomic():
            registry_services.delete_image(repository=repository, digest=digest, tag=None, actor=LIFECYCLE)
    except registry_selectors.ImageFailure:
        return False  # gone already, or an index pushed since lists it: it stays
    return True


def _expire(repository: Repository, expiry: Expiry) -> list[str] | None:
    """Delete the image and what goes with it, in the planned order, or nothing
    (None) when the image itself cannot go. A platform manifest tagged or listed
    anew since the evaluation stays; a referrer pushed since goes with its subject."""
    image = expiry.image.digest
    others = [digest for digest in expiry.deletions if digest != image]
    subjects = (
        dict(Manifest.objects.filter(repository=repository, digest__in=others).values_list("digest", "subject_digest"))
        if others
        else {}
    )
    with transaction.atomic():
        deleted = []
        for digest in expiry.deletions:
            if digest == image:
                if not _delete(repository, digest):
                    transaction.set_rollback(True)
                    return None
                deleted.append(digest)
                continue
            if digest not in subjects:
                continue
            if not subjects[digest] and Tag.objects.filter(repository=repository, manifest__digest=digest).exists():
                continue  # a platform manifest tagged since the evaluation is an image of its own now
            if _delete(repository, digest):
                deleted.append(digest)
        # Referrers pushed since the evaluation, of anything deleted: never left without their subject.
        while late := [
            digest
            for digest in Manifest.objects.filter(repository=repository, subject_digest__in=deleted)
            .exclude(digest__in=deleted)
            .values_list("digest", flat=True)
            if _delete(repository, digest)
        ]:
            deleted += late
    return deleted


def run_lifecycle_policies(*, now: datetime | None = None) -> int:
    """Run every repository's policy; returns the number of images expired. One
    repository's failure is logged and does not stop the others."""
    total = 0
    for repository_id in selectors.repositories_with_policies():
        repository = Repository.objects.select_related("account").filter(pk=repository_id).first()
        if repository is None:
            continue
        try:
            total += len(run_lifecycle_policy(repository=repository, now=now).expired)
        except Exception:
            logger.exception("lifecycle policy of repository %s failed", repository)
    return total

"""Replication end to end inside one process: the registry's events fan out to
status rows, tasks (eager in tests) copy to a destination in this deployment
(another account) or to a fake remote registry."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.audit.models import Event
from apps.events import outbox
from apps.events.names import IMAGE_REPLICATION_CHANGED
from apps.registry import services as registry_services
from apps.registry.models import Blob, Manifest, RepositoryBlob, Tag
from apps.replication import client as registry_client
from apps.replication import engine, selectors, services
from apps.replication.models import (
    BackfillStatus,
    ImageReplication,
    PullThroughCacheRule,
    ReplicationAction,
    ReplicationConfiguration,
    ReplicationStatus,
)
from apps.repositories.models import Repository

from .conftest import PUSHER, allow_replication, push_image, push_index, push_signature

ENDPOINT = "https://b.example.test"


@pytest.fixture(autouse=True)
def _region(settings):
    settings.BERTH_REGION = "local-a"
    settings.BERTH_REPLICATION_RETRY_BASE_SECONDS = 1


def configure(account, *destinations, filters=(), replicate_deletions=False):
    return services.put_replication_configuration(
        account=account,
        document={
            "rules": [
                {
                    "destinations": list(destinations),
                    "repositoryFilters": [{"filter": f, "filterType": "PREFIX_MATCH"} for f in filters],
                    **({"replicateDeletions": True} if replicate_deletions else {}),
                }
            ]
        },
        actor=PUSHER,
    )


def remote_destination(account_id="333333333333"):
    return {"region": "local-b", "registryId": account_id, "endpoint": ENDPOINT,
            "credentials": {"username": "robot", "password": "s3cret"}}  # fmt: skip


def rows(**filters):
    return list(ImageReplication.objects.filter(**filters).order_by("pk"))


# -- configuration ----------------------------------------------------------------------


def test_a_pull_through_cache_repository_is_not_replicated(make_tenant, make_repository, remote, committed):
    source = make_tenant("src").account
    configure(source, remote_destination())
    PullThroughCacheRule.objects.create(
        account=source, ecr_repository_prefix="hub", upstream_registry_url="http://127.0.0.1:9", tag_recheck_seconds=300
    )
    with committed():
        push_image(make_repository(source, "hub/library/alpine"))
        push_image(make_repository(source, "team/app"))
    assert {row.repository.name for row in rows()} == {"team/app"}
    backfill = services.start_replication_backfill(account=source, actor=PUSHER)
    assert {row.repository.name for row in rows(backfill=backfill)} == {"team/app"}


def test_credentials_are_sealed_kept_on_a_later_put_and_never_described(make_tenant):
    source = make_tenant("src").account
    described = configure(source, remote_destination())
    stored = ReplicationConfiguration.objects.get(account=source).rules[0]["destinations"][0]
    assert "s3cret" not in str(stored) and stored["sealedPassword"]
    assert described["rules"][0]["destinations"][0]["credentialsConfigured"] is True
    assert "s3cret" not in str(described)
    # Put back as DescribeRegistry shows it (no credentials): they are kept.
    configure(source, {"region": "local-b", "registryId": "333333333333", "endpoint": ENDPOINT})
    kept = ReplicationConfiguration.objects.get(account=source).rules[0]["destinations"][0]
    assert kept["sealedPassword"] == stored["sealedPassword"] and kept["username"] == "robot"
    assert Event.objects.filter(event_name="PutReplicationConfiguration").count() == 2
    assert "s3cret" not in str(list(Event.objects.values_list("request_parameters", "response_elements")))


# -- to another deployment --------------------------------------------------------------


def test_a_push_copies_the_tree_in_order_and_the_tag_last(make_tenant, make_repository, remote, committed):
    source = make_tenant("src").account
    configure(source, remote_destination())
    repository = make_repository(source)
    with committed():
        index, children = push_index(repository, tag="v1")
        signature = push_signature(repository, index)
    path = "333333333333/team/app"
    assert (path, "v1") in remote.manifests and (path, signature) in remote.manifests
    puts = [call[2] for call in remote.calls if call[0] == "put_manifest"]
    # The index after its entries, the signature after its subject, the tag after all.
    assert puts.index(index) > max(puts.index(child) for child in children)
    assert puts.index(signature) > puts.index(index)
    assert puts.index("v1") > puts.index(index)
    statuses = {row.image_digest: row.status for row in rows(action=ReplicationAction.REPLICATE)}
    assert statuses[index] == ReplicationStatus.COMPLETE and statuses[signature] == ReplicationStatus.COMPLETE


def test_a_copy_run_again_skips_what_the_destination_holds(make_tenant, make_repository, remote, committed):
    source = make_tenant("src").account
    configure(source, remote_destination())
    repository = make_repository(source)
    with committed():
        digest = push_image(repository, tag="v1")
    row = rows(image_digest=digest)[0]
    uploads_before = len([c for c in remote.calls if c[0] == "upload_blob"])
    remote.calls.clear()
    with committed():
        ImageReplication.objects.filter(pk=row.pk).update(status=ReplicationStatus.IN_PROGRESS)
        engine.run(row.pk)
    assert uploads_before == 3
    # The manifest is there: nothing under it is looked at again, only the tag.
    assert [c[0] for c in remote.calls] == ["head_manifest", "head_manifest"]
    assert ImageReplication.objects.get(pk=row.pk).status == ReplicationStatus.COMPLETE


def test_a_new_tag_on_an_old_image_replicates_the_tag(make_tenant, make_repository, remote, committed):
    source = make_tenant("src").account
    configure(source, remote_destination())
    repository = make_repository(source)
    with committed():
        digest = push_image(repository, tag="v1")
        manifest = Manifest.objects.get(repository=repository, digest=digest)
        registry_services.put_image(repository=repository, body=bytes(manifest.content),
                                    media_type=manifest.media_type, tag="stable", digest=None, actor=PUSHER)  # fmt: skip
    assert ("333333333333/team/app", "stable") in remote.manifests


def test_a_filter_that_does_not_match_copies_nothing(make_tenant, make_repository, remote, committed):
    source = make_tenant("src").account
    configure(source, remote_destination(), filters=["prod/"])
    with committed():
        push_image(make_repository(source, "team/app"))
        push_image(make_repository(source, "prod/api"))
    assert {row.repository.name for row in rows()} == {"prod/api"}
    assert {c[1] for c in remote.calls} == {"333333333333/prod/api"}


@pytest.fixture
def published(monkeypatch):
    """The image.replication_changed payloads published (delivered events leave the outbox)."""
    seen = []
    real = outbox.publish

    def spy(name, payload):
        if name == IMAGE_REPLICATION_CHANGED:
            seen.append(payload)
        return real(name, payload)

    monkeypatch.setattr(outbox, "publish", spy)
    return seen


def test_an_outage_retries_with_back_off_then_dead_letters_then_a_user_retries(
    make_tenant, make_repository, remote, committed, settings, published
):
    settings.BERTH_REPLICATION_MAX_ATTEMPTS = 3
    source = make_tenant("src").account
    configure(source, remote_destination())
    repository = make_repository(source)
    remote.fail_with = registry_client.Unavailable("connection refused")
    with committed():
        digest = push_image(repository)
    row = rows(image_digest=digest)[0]
    assert (row.status, row.attempts, row.failure_code) == (ReplicationStatus.IN_PROGRESS, 1, "Unavailable")
    assert row.next_attempt_at > timezone.now()
    for attempt in (2, 3):
        ImageReplication.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        with committed():
            engine.run(row.pk)
        row.refresh_from_db()
        assert row.attempts == attempt
    assert row.status == ReplicationStatus.FAILED
    assert "connection refused" in row.failure_reason and "after 3 attempts" in row.failure_reason
    assert [p["status"] for p in published] == [ReplicationStatus.IN_PROGRESS] * 3 + [ReplicationStatus.FAILED]
    assert published[-1]["failureCode"] == "Unavailable" and published[-1]["destination"]["endpoint"] == ENDPOINT
    remote.fail_with = None
    with committed():
        statuses = services.retry_image_replication(repository=repository, digest=digest, actor=PUSHER)
    assert [s.status for s in statuses] == [ReplicationStatus.IN_PROGRESS]  # as the answer shows it
    assert rows(image_digest=digest)[0].status == ReplicationStatus.COMPLETE
    assert Event.objects.filter(event_name="RetryImageReplication").exists()


@pytest.mark.parametrize(
    "refusal, code, words",
    [
        (registry_client.AccessDenied("requested access to the resource is denied", status=403), "AccessDenied", "denied"),
        (registry_client.AddressRefused("registry.example is at 169.254.169.254, in 169.254.0.0/16"), "AddressRefused", "169.254"),
    ],
)  # fmt: skip
def test_a_refusal_at_the_destination_fails_at_once(
    make_tenant, make_repository, remote, committed, refusal, code, words
):
    source = make_tenant("src").account
    configure(source, remote_destination())
    remote.fail_with = refusal
    with committed():
        digest = push_image(make_repository(source))
    row = rows(image_digest=digest)[0]
    assert (row.status, row.failure_code, row.attempts) == (ReplicationStatus.FAILED, code, 1)
    assert words in row.failure_reason


def test_a_failing_destination_does_not_hold_up_another(make_tenant, make_repository, remote, committed):
    source = make_tenant("src").account
    target = make_tenant("dst").account
    allow_replication(target, source.pk)
    configure(source, remote_destination(), {"region": "local-a", "registryId": target.pk})
    remote.fail_with = registry_client.Unavailable("down")
    with committed():
        digest = push_image(make_repository(source))
    statuses = {row.destination_registry_id: row.status for row in rows(image_digest=digest)}
    assert statuses == {"333333333333": ReplicationStatus.IN_PROGRESS, target.pk: ReplicationStatus.COMPLETE}


def test_a_lost_task_is_queued_again_by_the_sweep(make_tenant, make_repository, remote, settings):
    source = make_tenant("src").account
    configure(source, remote_destination())
    repository = make_repository(source)
    digest = push_image(repository)  # no commit: the event is never delivered, as if the task were lost
    services.replicate_image(repository_id=repository.pk, digest=digest)
    row = rows(image_digest=digest)[0]
    assert row.status == ReplicationStatus.IN_PROGRESS
    assert engine.due_rows() == []  # just queued
    ImageReplication.objects.filter(pk=row.pk).update(enqueued_at=timezone.now() - timezone.timedelta(hours=1))
    assert engine.due_rows() == [row.pk]
    engine.run(row.pk)
    assert ImageReplication.objects.get(pk=row.pk).status == ReplicationStatus.COMPLETE


def test_a_claimed_copy_is_not_run_twice_at_once(make_tenant, make_repository, remote):
    source = make_tenant("src").account
    configure(source, remote_destination())
    repository = make_repository(source)
    digest = push_image(repository)
    services.replicate_image(repository_id=repository.pk, digest=digest)
    row = rows(image_digest=digest)[0]
    claim = engine._claim(row.pk)
    assert claim is not None and engine._claim(row.pk) is None
    # A push while it runs raises the generation: the copy runs again when done.
    services.replicate_image(repository_id=repository.pk, digest=digest)
    assert engine._settle(claim).requeue_in == 0
    assert ImageReplication.objects.get(pk=row.pk).status == ReplicationStatus.IN_PROGRESS


def test_the_destination_mounts_what_another_repository_already_replicated(
    make_tenant, make_repository, remote, committed
):
    source = make_tenant("src").account
    configure(source, remote_destination())
    with committed():
        push_image(make_repository(source, "team/one"), seed="same")
        push_image(make_repository(source, "team/two"), seed="same")
    mounts = [c for c in remote.calls if c[0] == "upload_blob" and c[1].endswith("team/two")]
    assert mounts and all(c[3] == ("333333333333/team/one",) for c in mounts)


# -- inside this deployment -------------------------------------------------------------


def test_cross_account_without_the_registry_policy_is_access_denied_then_retried(
    make_tenant, make_repository, committed
):
    source = make_tenant("src").account
    target = make_tenant("dst").account
    configure(source, {"region": "local-a", "registryId": target.pk})
    repository = make_repository(source)
    with committed():
        digest = push_image(repository)
    row = rows(image_digest=digest)[0]
    assert (row.status, row.failure_code) == (ReplicationStatus.FAILED, "AccessDenied")
    assert "ecr:ReplicateImage" in row.failure_reason
    assert not Repository.objects.filter(account=target).exists()
    allow_replication(target, source.pk)
    with committed():
        services.retry_image_replication(repository=repository, digest=digest, actor=PUSHER)
    assert rows(image_digest=digest)[0].status == ReplicationStatus.COMPLETE


def test_a_copy_in_this_deployment_links_the_same_blob_rows(make_tenant, make_repository, committed):
    source = make_tenant("src").account
    target = make_tenant("dst").account
    allow_replication(target, source.pk)
    configure(source, {"region": "local-a", "registryId": target.pk})
    repository = make_repository(source)
    blobs_before = Blob.objects.count()
    with committed():
        index, _ = push_index(repository, tag="v1")
        signature = push_signature(repository, index)
    blobs_after_push = Blob.objects.count()
    copy = Repository.objects.get(account=target, name="team/app")
    assert Tag.objects.get(repository=copy, name="v1").manifest.digest == index
    assert Manifest.objects.filter(repository=copy, digest=signature).exists()
    assert set(RepositoryBlob.objects.filter(repository=copy).values_list("blob_id", flat=True)) == set(
        RepositoryBlob.objects.filter(repository=repository).values_list("blob_id", flat=True)
    )
    assert Blob.objects.count() == blobs_after_push > blobs_before  # no byte copied: the rows are shared
    assert {row.status for row in rows()} == {ReplicationStatus.COMPLETE}


# -- deletions --------------------------------------------------------------------------


@pytest.mark.parametrize("replicate_deletions", [False, True])
def test_deletions_replicate_only_when_a_rule_asks(make_tenant, make_repository, committed, replicate_deletions):
    source = make_tenant("src").account
    target = make_tenant("dst").account
    allow_replication(target, source.pk)
    configure(source, {"region": "local-a", "registryId": target.pk}, replicate_deletions=replicate_deletions)
    repository = make_repository(source)
    with committed():
        digest = push_image(repository, tag="v1")
    copy = Repository.objects.get(account=target, name="team/app")
    with committed():
        registry_services.batch_delete_image(repository=repository, image_ids=[(digest, None)], actor=PUSHER)
    assert Manifest.objects.filter(repository=copy, digest=digest).exists() is not replicate_deletions
    assert not ImageReplication.objects.exists()  # the copy's row went with the image, the deletion's when done


def test_a_tag_deletion_replicates_when_asked(make_tenant, make_repository, committed):
    source = make_tenant("src").account
    target = make_tenant("dst").account
    allow_replication(target, source.pk)
    configure(source, {"region": "local-a", "registryId": target.pk}, replicate_deletions=True)
    repository = make_repository(source)
    with committed():
        digest = push_image(repository, tag="v1")
        manifest = Manifest.objects.get(repository=repository, digest=digest)
        registry_services.put_image(repository=repository, body=bytes(manifest.content),
                                    media_type=manifest.media_type, tag="v2", digest=None, actor=PUSHER)  # fmt: skip
    copy = Repository.objects.get(account=target, name="team/app")
    assert set(Tag.objects.filter(repository=copy).values_list("name", flat=True)) == {"v1", "v2"}
    with committed():
        registry_services.delete_tag(repository=repository, tag="v1", actor=PUSHER)
    assert set(Tag.objects.filter(repository=copy).values_list("name", flat=True)) == {"v2"}


def test_a_tag_deletion_reaches_another_deployment_while_the_tag_names_the_image(
    make_tenant, make_repository, remote, committed
):
    source = make_tenant("src").account
    configure(source, remote_destination(), replicate_deletions=True)
    repository = make_repository(source)
    with committed():
        digest = push_image(repository, tag="v1")
        other = push_image(repository, tag="v2", seed="b")
    path = "333333333333/team/app"
    assert (path, "v1") in remote.manifests and (path, "v2") in remote.manifests
    remote.manifests[(path, "v2")] = remote.manifests[(path, digest)]  # moved there by someone else
    with committed():
        registry_services.delete_tag(repository=repository, tag="v1", actor=PUSHER)
        registry_services.delete_tag(repository=repository, tag="v2", actor=PUSHER)
    assert ("delete_tag", path, "v1") in remote.calls
    assert ("delete_tag", path, "v2") not in remote.calls  # it names another image there: left alone
    assert (path, digest) in remote.manifests and (path, other) in remote.manifests


def test_a_deleted_repository_takes_its_status_rows(make_tenant, make_repository, remote, committed):
    source = make_tenant("src").account
    configure(source, remote_destination())
    repository = make_repository(source)
    with committed():
        push_image(repository)
    assert rows()
    with committed():
        registry_services.delete_repository(repository=repository, force=True, actor=PUSHER)
    assert not rows()


# -- back-fills -------------------------------------------------------------------------


def test_a_backfill_copies_what_existed_before_the_rule(make_tenant, make_repository, remote, committed):
    source = make_tenant("src").account
    repository = make_repository(source)
    other = make_repository(source, "other/app")
    with committed():
        index, _ = push_index(repository, tag="v1")
        push_signature(repository, index)
        plain = push_image(repository, tag="v2", seed="b")
        push_image(other, seed="c")
    configure(source, remote_destination(), filters=["team/"])
    assert not rows()
    with committed():
        backfill = services.start_replication_backfill(account=source, actor=PUSHER)
    backfill.refresh_from_db()
    # The index (bringing its entries and its signature) and the plain image; not other/app.
    assert backfill.total == 2 and backfill.status == BackfillStatus.COMPLETE
    assert {row.image_digest for row in rows(backfill=backfill)} == {index, plain}
    assert ("333333333333/team/app", "v1") in remote.manifests and ("333333333333/team/app", "v2") in remote.manifests
    progress = selectors.progress(backfill)
    assert (progress.total, progress.complete, progress.failed, progress.in_progress) == (2, 2, 0, 0)


def test_a_stopped_backfill_drops_the_copies_not_started(make_tenant, make_repository, remote):
    source = make_tenant("src").account
    repository = make_repository(source)
    digests = [push_image(repository, tag=f"v{n}", seed=str(n)) for n in range(3)]
    configure(source, remote_destination())
    backfill = services.start_replication_backfill(account=source, actor=PUSHER)  # not committed: nothing runs
    started = rows(image_digest=digests[0])[0]
    claim = engine._claim(started.pk)
    stopped = services.stop_replication_backfill(account=source, backfill_id=backfill.pk, actor=PUSHER)
    assert (stopped.status, stopped.dropped) == (BackfillStatus.STOPPED, 2)
    assert [row.pk for row in rows(backfill=backfill)] == [started.pk]
    engine._settle(claim)  # the started copy finishes
    assert ImageReplication.objects.get(pk=started.pk).status == ReplicationStatus.COMPLETE


def test_a_backfill_without_rules_is_refused(make_tenant):
    with pytest.raises(services.ReplicationNotConfigured):
        services.start_replication_backfill(account=make_tenant().account, actor=PUSHER)


def test_a_finished_copy_is_a_domain_event_and_a_system_audit_event(
    make_tenant, make_repository, remote, committed, published
):
    source = make_tenant("src").account
    configure(source, remote_destination())
    with committed():
        digest = push_image(make_repository(source))
    assert [(p["digest"], p["status"]) for p in published] == [
        (digest, ReplicationStatus.IN_PROGRESS), (digest, ReplicationStatus.COMPLETE)
    ]  # fmt: skip
    audit = Event.objects.filter(event_name="ReplicateImage").first()
    assert audit is not None and audit.response_elements["status"] == ReplicationStatus.COMPLETE
    assert audit.request_parameters["imageId"] == {"imageDigest": digest}

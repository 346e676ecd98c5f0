"""The event trail: one row per recorded event, chained by hashes.

Each event's ``hash`` covers its recorded fields and the hash of the event before
it (``apps.audit.chain``), so altering, removing or reordering a stored event is
found by ``manage.py verify_audit_chain``. ``ChainHead`` is the one row writers
lock to append (it hands out the next sequence number and the previous hash);
``PruneRecord`` says what retention removed, so the chain still verifies from the
first event that remains."""

from __future__ import annotations

from django.db import models

from apps.kernel.names import DIGEST_MAX_LENGTH, REPOSITORY_NAME_MAX_LENGTH, TAG_MAX_LENGTH
from apps.kernel.requests import REQUEST_ID_MAX_LENGTH, USER_AGENT_MAX_LENGTH

from .events import new_id

HASH_LENGTH = 64  # sha256, hex
# Where the first event's previous_hash points: nothing came before it.
GENESIS_HASH = "0" * HASH_LENGTH
ARN_MAX_LENGTH = 2048
ERROR_MESSAGE_MAX_LENGTH = 4096


class Event(models.Model):
    """One management API call or registry action, as CloudTrail records it."""

    # The position in the chain: gapless, assigned under the chain head's lock.
    sequence = models.BigIntegerField(unique=True)
    # Time-ordered (version 7): appends go to the end of its index.
    event_id = models.UUIDField(unique=True, default=new_id, editable=False)
    event_time = models.DateTimeField()
    event_name = models.CharField(max_length=128)
    event_source = models.CharField(max_length=32)
    read_only = models.BooleanField()
    actor_type = models.CharField(max_length=32)
    actor_arn = models.CharField(max_length=ARN_MAX_LENGTH, blank=True, default="")
    actor_account_id = models.CharField(max_length=12, blank=True, default="")
    actor_username = models.CharField(max_length=150, blank=True, default="")
    actor_access_key_id = models.CharField(max_length=128, blank=True, default="")
    actor_session_name = models.CharField(max_length=128, blank=True, default="")
    actor_role_arn = models.CharField(max_length=ARN_MAX_LENGTH, blank=True, default="")
    source_ip = models.CharField(max_length=45, blank=True, default="")
    user_agent = models.CharField(max_length=USER_AGENT_MAX_LENGTH, blank=True, default="")
    request_id = models.CharField(max_length=REQUEST_ID_MAX_LENGTH, blank=True, default="")
    recipient_account_id = models.CharField(max_length=12, blank=True, default="")
    repository = models.CharField(max_length=REPOSITORY_NAME_MAX_LENGTH, blank=True, default="")
    # Copied out of the parameters so that "who pulled this image" is an index look-up.
    image_digest = models.CharField(max_length=DIGEST_MAX_LENGTH, blank=True, default="")
    image_tag = models.CharField(max_length=TAG_MAX_LENGTH, blank=True, default="")
    request_parameters = models.JSONField(default=dict, blank=True)
    response_elements = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=128, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    previous_hash = models.CharField(max_length=HASH_LENGTH)
    hash = models.CharField(max_length=HASH_LENGTH)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(sequence__gte=1), name="audit_event_sequence_positive"),
        ]
        # Every look-up is one account's (its own resources' events, its principals'
        # events elsewhere): a filter on the event name reads the account's index. A
        # trail-wide index on the name (nearly every row a BatchGetImage) served no
        # look-up and cost each pull an index entry.
        indexes = [
            models.Index(fields=["event_time", "sequence"], name="audit_event_time"),
            models.Index(fields=["recipient_account_id", "event_time"], name="audit_event_recipient"),
            models.Index(fields=["actor_account_id", "event_time"], name="audit_event_actor_account"),
            models.Index(fields=["actor_arn", "event_time"], name="audit_event_actor_arn"),
            models.Index(fields=["recipient_account_id", "repository", "event_time"], name="audit_event_repository"),
            models.Index(fields=["image_digest", "event_time"], name="audit_event_digest"),
            models.Index(fields=["source_ip", "event_time"], name="audit_event_source_ip"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.event_source}:{self.event_name} by {self.actor_arn or self.actor_type}"


class ChainHead(models.Model):
    """The chain's one head row: the last sequence handed out and its hash. Writers
    lock it (select_for_update) to append, which serializes them."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    last_sequence = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=HASH_LENGTH, default=GENESIS_HASH)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_chain_head_singleton")]

    def __str__(self) -> str:
        return f"chain head at #{self.last_sequence}"


class PruneRecord(models.Model):
    """One retention run: it removed every event through ``through_sequence``, the
    last of them hashing to ``last_removed_hash`` (the first kept event's previous_hash)."""

    through_sequence = models.BigIntegerField(unique=True)
    last_removed_hash = models.CharField(max_length=HASH_LENGTH)
    removed_count = models.BigIntegerField()
    older_than = models.DateTimeField()
    pruned_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(through_sequence__gte=1), name="audit_prune_through_positive"),
            models.CheckConstraint(condition=models.Q(removed_count__gte=1), name="audit_prune_removed_some"),
        ]

    def __str__(self) -> str:
        return f"pruned through #{self.through_sequence} at {self.pruned_at:%Y-%m-%d %H:%M}"


SPOOL_OWNER_MAX_LENGTH = 64


class SpoolCursor(models.Model):
    """How far the ingester of one spool directory has read one of its files
    (apps.audit.spool): moved in the transaction that writes the events before it,
    so each is written once.

    ``owner`` is the id the spool directory keeps in its ``.spool-id`` file: hosts
    that share the database each have a spool directory of their own, and an
    ingester reads, moves and forgets only its own directory's cursors. "" marks a
    cursor written before cursors had owners: the ingester whose directory holds
    that file takes it over."""

    owner = models.CharField(max_length=SPOOL_OWNER_MAX_LENGTH, blank=True)
    name = models.CharField(max_length=255)
    offset = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="audit_spool_cursor_once_per_owner")]

    def __str__(self) -> str:
        return f"{self.owner or '(unowned)'}/{self.name} at byte {self.offset}"


class FailureWindow(models.Model):
    """The failed requests (refusals, and every other error) that callers from
    outside an account (anonymous callers, other accounts' principals) made
    against it from one source, of one operation with one error code, in one
    window of BERTH_AUDIT_FAILURE_WINDOW_SECONDS. The trail records the first
    BERTH_AUDIT_FAILURES_PER_SOURCE of them one by one; the rest are counted here,
    in the transaction that would have written them, and reported by one
    aggregate event once the window is over (apps.audit.services)."""

    recipient_account_id = models.CharField(max_length=12, blank=True)
    actor_account_id = models.CharField(max_length=12, blank=True)  # "" for anonymous callers
    source = models.CharField(max_length=45)  # the address; for IPv6, its /64 (apps.kernel.requests.address_group)
    event_source = models.CharField(max_length=32)
    event_name = models.CharField(max_length=128)
    error_code = models.CharField(max_length=128)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    recorded = models.BigIntegerField(default=0)  # recorded one by one
    counted = models.BigIntegerField(default=0)  # counted instead
    reported = models.BigIntegerField(default=0)  # of those counted, reported by aggregate events written
    # Of the counted events not reported yet: the first's and the last's times, the
    # fields of the first that its aggregate repeats, and a few distinct values of each
    # detail the aggregate lists (addresses, principals, repositories, user agents).
    first_time = models.DateTimeField(null=True, blank=True)
    last_time = models.DateTimeField(null=True, blank=True)
    sample = models.JSONField(default=dict, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "recipient_account_id",
                    "actor_account_id",
                    "source",
                    "event_source",
                    "event_name",
                    "error_code",
                    "window_start",
                ],
                name="audit_failure_window_once",
            ),
            models.CheckConstraint(
                condition=models.Q(reported__lte=models.F("counted")), name="audit_failure_window_reports_counted"
            ),
        ]
        # The windows with failures to report: what every pass of an ingester looks for.
        indexes = [
            models.Index(
                fields=["window_end"],
                condition=models.Q(counted__gt=models.F("reported")),
                name="audit_failure_window_due",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.event_name} {self.error_code} from {self.source} against {self.recipient_account_id or '-'} "
            f"from {self.window_start:%Y-%m-%d %H:%M}: {self.recorded} recorded, {self.counted} counted"
        )

"""Who did what, gathered while it happens.

The code that authorizes a request starts its event (``begin``) with the caller
and the ECR operation name; handlers add request parameters as they learn them.
A service that changes state is given the actor and, when a request asked for
the change, the request's context (apps.kernel.requests); it records the change
inside its own transaction (``apps.audit.services.record_change``): as the event
the request started, or as one of its own (Berth's work that no request asked
for, a staff action in the admin). Every other event (reads, refusals, failed
writes) is finished by ``apps.audit.middleware.AuditMiddleware`` from the
response and handed to the recorder (its spool), so pulls never wait on a write."""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from weakref import WeakKeyDictionary

from django.conf import settings
from django.utils import timezone

from apps.kernel.requests import RequestContext, request_context

logger = logging.getLogger(__name__)

REQUEST_ATTRIBUTE = "berth_audit_event"
# Where an aggregate event (failed requests counted instead of recorded one by one:
# apps.audit.services.tally_failures) keeps its count and details, in its response elements.
AGGREGATE = "berth:aggregate"
# The user agent of the events of Berth's own work, which no request asked for.
SYSTEM_USER_AGENT = "berth"


class ActorType:
    """CloudTrail's userIdentity.type values, and Berth's own two: a staff operator
    (outside every account) in the staff console, and Berth's own work, as
    CloudTrail's AWSService is Amazon's."""

    ROOT = "Root"
    IAM_USER = "IAMUser"
    ASSUMED_ROLE = "AssumedRole"
    ANONYMOUS = "Anonymous"
    STAFF = "BerthStaff"
    SYSTEM = "BerthService"


@dataclass(frozen=True)
class Actor:
    """Who made the request, as the trail names them."""

    type: str
    arn: str = ""
    account_id: str = ""
    username: str = ""
    access_key_id: str = ""
    session_name: str = ""  # a role session's name (AssumeRole's RoleSessionName)
    role_arn: str = ""  # for a role session: the role it assumed

    @classmethod
    def staff(cls, username: str) -> Actor:
        """A staff operator, by user name."""
        return cls(type=ActorType.STAFF, username=username)

    @classmethod
    def system(cls, component: str) -> Actor:
        """Berth itself, doing ``component``'s work ("lifecycle", "replication", "scanner")."""
        return cls(type=ActorType.SYSTEM, username=component)

    @property
    def display_name(self) -> str:
        """How records such as a tag's history name the actor: the user (or Berth's
        component), else the ARN (a role session's)."""
        return self.username or self.arn


ANONYMOUS_ACTOR = Actor(type=ActorType.ANONYMOUS)


_VERSION_7 = 0x7 << 76
_RFC_9562_VARIANT = 0x2 << 62
_RANDOM_BITS = ((1 << 12) - 1) << 64 | (1 << 62) - 1  # the 12 bits after the version, the 62 after the variant


def new_id() -> uuid.UUID:
    """A version 7 UUID (RFC 9562) for an event or a request: the Unix time in
    milliseconds, then 74 random bits. Ids made later sort later, so the trail's
    unique index on event ids grows at its end, as its time index does: with
    random (version 4) ids every batch of events dirtied a page per event all over
    that index, and appending cost more the longer the trail grew."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10)) & _RANDOM_BITS
    return uuid.UUID(int=value | _VERSION_7 | _RFC_9562_VARIANT)


@dataclass
class EventDraft:
    event_name: str  # the ECR operation: "BatchGetImage", "PutImage", "SetRepositoryPolicy", ...
    event_source: str  # "ecr", "ecr-public", "sts", "iam", "cloudtrail", "berth"
    actor: Actor
    source_ip: str
    user_agent: str
    request_id: str
    read_only: bool
    recipient_account_id: str = ""  # the account whose resource this is ("" when none)
    repository: str = ""  # the repository's name within its account
    request_parameters: dict = field(default_factory=dict)
    response_elements: dict = field(default_factory=dict)
    error_code: str = ""
    error_message: str = ""
    event_time: datetime = field(default_factory=timezone.now)
    event_id: uuid.UUID = field(default_factory=lambda: new_id())  # the stored Event's id (CloudTrail's eventID)
    recorded: bool = False  # set once written, so the middleware does not write it again

    def refuse(self, message: str = "") -> None:
        """Mark the event as an access denial (CloudTrail's AccessDenied)."""
        self.error_code = "AccessDenied"
        self.error_message = message


def begin(
    request,
    *,
    event_name: str,
    actor: Actor,
    read_only: bool,
    event_source: str = "ecr",
    recipient_account_id: str = "",
    repository: str = "",
    **request_parameters,
) -> EventDraft:
    """Start the event of ``request`` (replacing any started before)."""
    context = request_context(request)
    draft = EventDraft(
        event_name=event_name,
        event_source=event_source,
        actor=actor,
        source_ip=context.client_ip,
        user_agent=context.user_agent,
        request_id=context.request_id,
        read_only=read_only,
        recipient_account_id=recipient_account_id,
        repository=repository,
        request_parameters=with_values(request_parameters),
    )
    # On the Django request under a DRF one, where current() and the middleware look.
    setattr(getattr(request, "_request", request), REQUEST_ATTRIBUTE, draft)
    _started[context] = draft
    return draft


def current(request) -> EventDraft | None:
    """The event ``request`` has started, if any. Works for DRF requests too."""
    request = getattr(request, "_request", request)
    return getattr(request, REQUEST_ATTRIBUTE, None)


# The event each request started, by the request's context: the services, given the
# context and not the request, record it (it goes when the request's context does).
_started: WeakKeyDictionary[RequestContext, EventDraft] = WeakKeyDictionary()


def started(context: RequestContext | None) -> EventDraft | None:
    """The event the request of ``context`` started, if any."""
    return None if context is None else _started.get(context)


def unstarted(
    actor: Actor,
    context: RequestContext | None,
    *,
    event_name: str,
    event_source: str,
    recipient_account_id: str = "",
    repository: str = "",
    request_parameters: dict | None = None,
) -> EventDraft:
    """The event of a write that no request started: in the circumstances of
    ``context`` when a request asked for it (a staff action in the admin), else
    of Berth's own work (no address, no request id, user agent ``berth``)."""
    return EventDraft(
        event_name=event_name,
        event_source=event_source,
        actor=actor,
        source_ip=context.client_ip if context is not None else "",
        user_agent=context.user_agent if context is not None else SYSTEM_USER_AGENT,
        request_id=context.request_id if context is not None else "",
        read_only=False,
        recipient_account_id=recipient_account_id,
        repository=repository,
        request_parameters=with_values(request_parameters or {}),
    )


def with_values(parameters: dict) -> dict:
    """The parameters that were given a value."""
    return {k: v for k, v in parameters.items() if v not in (None, "")}


class UnrecordedChange(AssertionError):
    """A write request succeeded, but no service recorded its audit event."""


def require_recorded(draft: EventDraft | None, *, surface: str) -> None:
    """After a successful write request of ``surface`` (the management API, the
    console): the service that made the change must have recorded the event the
    request started (apps.audit.services.record_change). A miss is a bug: raised
    with DEBUG or BERTH_AUDIT_STRICT (the tests), logged as an error otherwise
    (apps.audit.middleware still hands the event to the recorder, outside the
    change's transaction)."""
    if draft is None or draft.read_only or draft.recorded:
        return
    message = (
        f"{draft.event_name} succeeded in {surface} but no service recorded its audit event: "
        "the service that made the change must call apps.audit.services.record_change"
    )
    if settings.DEBUG or settings.BERTH_AUDIT_STRICT:
        raise UnrecordedChange(message)
    logger.error(message)

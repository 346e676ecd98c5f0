"""What an audited request is about, gathered while it runs.

The code that authorizes a request starts its event (``begin``) with the caller
and the ECR operation name; handlers add request parameters as they learn them.
A service that changes state records the event inside its own transaction
(``apps.audit.services.record``); every other event (reads, refusals, failed
writes) is finished by ``apps.audit.middleware.AuditMiddleware`` from the
response and handed to the recorder (its spool), so pulls never wait on a write."""
from __future__ import annotations

import os
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from apps.kernel.requests import request_context

REQUEST_ATTRIBUTE = "berth_audit_event"
# Where an aggregate event (failed requests counted instead of recorded one by one:
# apps.audit.services.tally_failures) keeps its count and details, in its response elements.
AGGREGATE = "berth:aggregate"


class ActorType:
    """CloudTrail's userIdentity.type values."""

    ROOT = "Root"
    IAM_USER = "IAMUser"
    ASSUMED_ROLE = "AssumedRole"
    ANONYMOUS = "Anonymous"


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


ANONYMOUS_ACTOR = Actor(type=ActorType.ANONYMOUS)


# Ids must be unique, not secret: a PRNG of our own (seeded from the OS, reseeded in
# every forked worker, and out of reach of anything that seeds the global `random`,
# as property-based tests do) gives their random bits for a fraction of uuid4's
# os.urandom call, which costs ~20 µs on a virtual machine.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)
_VERSION_7 = 0x7 << 76
_RFC_9562_VARIANT = 0x2 << 62
_RANDOM_A = ((1 << 12) - 1) << 64  # the 12 random bits after the version
_RANDOM_B = (1 << 62) - 1  # the 62 random bits after the variant


def new_id() -> uuid.UUID:
    """A version 7 UUID (RFC 9562) for an event or a request: the Unix time in
    milliseconds, then 74 random bits. Ids made later sort later, so the trail's
    unique index on event ids grows at its end, as its time index does: with
    random (version 4) ids every batch of events dirtied a page per event all over
    that index, and appending cost more the longer the trail grew."""
    bits = _ids.getrandbits(80)
    return uuid.UUID(int=(time.time_ns() // 1_000_000) << 80 | _VERSION_7 | bits & _RANDOM_A
                     | _RFC_9562_VARIANT | bits & _RANDOM_B)


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
        request_parameters={k: v for k, v in request_parameters.items() if v not in (None, "")},
    )
    # On the Django request under a DRF one, where current() and the middleware look.
    setattr(getattr(request, "_request", request), REQUEST_ATTRIBUTE, draft)
    return draft


def current(request) -> EventDraft | None:
    """The event ``request`` has started, if any. Works for DRF requests too."""
    request = getattr(request, "_request", request)
    return getattr(request, REQUEST_ATTRIBUTE, None)

"""An event as a CloudTrail record: the shape people and tools that read
CloudTrail's ECR events already know, plus the event's place in Berth's chain
(`berth:sequence`, `berth:hash`).

An aggregate event (failed requests from outside the account, counted instead of
recorded one by one: apps.audit.services) is a record of eventType
`BerthAggregate`, its count and details in `responseElements["berth:aggregate"]`."""

from __future__ import annotations

from django.conf import settings

from apps.kernel.arn import repository_arn

from .chain import iso_time
from .events import AGGREGATE, ActorType
from .models import Event

EVENT_VERSION = "1.08"
EVENT_TYPE = "AwsApiCall"
AGGREGATE_EVENT_TYPE = "BerthAggregate"
REPOSITORY_RESOURCE_TYPE = "AWS::ECR::Repository"
ANONYMOUS_PRINCIPAL = "ANONYMOUS_PRINCIPAL"


def event_source(source: str) -> str:
    """`ecr` -> `ecr.berth`, as CloudTrail writes `ecr.amazonaws.com`."""
    return f"{source}.berth"


def user_identity(event: Event) -> dict:
    if event.actor_type == ActorType.ANONYMOUS:
        return {"type": ActorType.ANONYMOUS, "principalId": ANONYMOUS_PRINCIPAL, "accountId": ANONYMOUS_PRINCIPAL}
    identity = {
        "type": event.actor_type,
        "arn": event.actor_arn,
        "accountId": event.actor_account_id,
    }
    if event.actor_access_key_id:
        identity["accessKeyId"] = event.actor_access_key_id
    if event.actor_type == ActorType.ROOT:
        identity["principalId"] = event.actor_account_id
    elif event.actor_type == ActorType.ASSUMED_ROLE:
        role_name = event.actor_role_arn.rsplit("/", 1)[-1]
        identity["principalId"] = f"{role_name}:{event.actor_session_name}"
        identity["sessionContext"] = {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_name,
                "arn": event.actor_role_arn,
                "accountId": event.actor_account_id,
                "userName": role_name,
            },
            "sessionName": event.actor_session_name,
        }
    else:
        identity["principalId"] = event.actor_username
        identity["userName"] = event.actor_username
    return identity


def resources(event: Event) -> list[dict]:
    if not (event.recipient_account_id and event.repository):
        return []
    arn = repository_arn(
        event.recipient_account_id, settings.BERTH_REGION, event.repository, partition=settings.BERTH_ARN_PARTITION
    )
    return [{"ARN": arn, "accountId": event.recipient_account_id, "type": REPOSITORY_RESOURCE_TYPE}]


def to_record(event: Event) -> dict:
    record = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(event),
        "eventTime": iso_time(event.event_time),
        "eventSource": event_source(event.event_source),
        "eventName": event.event_name,
        "awsRegion": settings.BERTH_REGION,
        "sourceIPAddress": event.source_ip,
        "userAgent": event.user_agent,
        "requestParameters": event.request_parameters or None,
        "responseElements": event.response_elements or None,
        "requestID": event.request_id,
        "eventID": str(event.event_id),
        "readOnly": event.read_only,
        "resources": resources(event),
        "eventType": AGGREGATE_EVENT_TYPE if AGGREGATE in (event.response_elements or {}) else EVENT_TYPE,
        "recipientAccountId": event.recipient_account_id or event.actor_account_id,
        "berth:sequence": event.sequence,
        "berth:hash": event.hash,
    }
    if event.error_code:
        record["errorCode"] = event.error_code
        record["errorMessage"] = event.error_message
    return record

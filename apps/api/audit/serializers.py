"""Shapes of the audit API: LookupEvents' query and page, and the answers to the
ready-made questions."""

from __future__ import annotations

import ipaddress

from rest_framework import serializers

from apps.audit.selectors import EventFilters, previous_digest
from apps.kernel.digests import DigestInvalid, parse_digest
from apps.registry.models import DIGEST_MAX_LENGTH, TAG_MAX_LENGTH
from apps.repositories.models import REPOSITORY_NAME_MAX_LENGTH

MAX_RESULTS = 1000
DEFAULT_MAX_RESULTS = 50


def _digest(value: str) -> str:
    try:
        parse_digest(value)
    except DigestInvalid as exc:
        raise serializers.ValidationError(exc.message) from None
    return value


def _address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise serializers.ValidationError(f"{value[:100]!r} is not an IPv4 or IPv6 address") from None


class DigestField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=DIGEST_MAX_LENGTH, validators=[_digest], help_text="`sha256:<hex>`", **kwargs)


class LookupEventsQuerySerializer(serializers.Serializer):
    event_name = serializers.CharField(
        required=False, max_length=128, help_text="the operation: `BatchGetImage`, `PutImage`, `CreateRepository`, ..."
    )
    principal = serializers.CharField(
        required=False, max_length=2048, help_text="who acted: an ARN, an IAM user name or an access key id"
    )
    repository = serializers.CharField(required=False, max_length=REPOSITORY_NAME_MAX_LENGTH)
    digest = DigestField(required=False)
    tag = serializers.CharField(required=False, max_length=TAG_MAX_LENGTH)
    source_ip = serializers.CharField(
        required=False,
        max_length=64,
        validators=[_address],
        help_text="the caller's address (an IPv6 address also finds the aggregate events of its /64)",
    )
    start_time = serializers.DateTimeField(required=False, help_text="ISO 8601; events at or after it")
    end_time = serializers.DateTimeField(required=False, help_text="ISO 8601; events at or before it")
    read_only = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="true: reads only; false: writes only"
    )

    def validate(self, data):
        start, end = data.get("start_time"), data.get("end_time")
        if start is not None and end is not None and start > end:
            raise serializers.ValidationError({"end_time": "end_time is before start_time"})
        return data

    def filters(self) -> EventFilters:
        data = self.validated_data
        return EventFilters(
            event_name=data.get("event_name", ""),
            principal=data.get("principal", ""),
            repository=data.get("repository", ""),
            digest=data.get("digest", ""),
            tag=data.get("tag", ""),
            source_ip=str(ipaddress.ip_address(data["source_ip"])) if data.get("source_ip") else "",
            start_time=data.get("start_time"),
            end_time=data.get("end_time"),
            read_only=data.get("read_only"),
        )


class LookupEventsPageQuerySerializer(LookupEventsQuerySerializer):
    max_results = serializers.IntegerField(min_value=1, max_value=MAX_RESULTS, default=DEFAULT_MAX_RESULTS)
    next = serializers.CharField(required=False, help_text="the `next` token of the previous page")


class EventPageSerializer(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.DictField(),
        help_text="CloudTrail records, newest first: eventVersion, userIdentity, eventTime, eventSource, eventName, "
        "awsRegion, sourceIPAddress, userAgent, requestParameters, responseElements, requestID, eventID, readOnly, "
        "resources, eventType, recipientAccountId, errorCode and errorMessage (failures only), and Berth's "
        "`berth:sequence` and `berth:hash` (the event's place in the tamper-evident chain). Failed requests from "
        "outside the account beyond the first few per source, operation and error in a window are counted, not "
        "recorded one by one: a record of eventType `BerthAggregate` reports them, with `count`, "
        "`firstEventTime`, `lastEventTime`, `windowStart`, `windowEnd`, `recordedOneByOne` and a few "
        '`sourceIPAddresses`, `principals`, `repositories` and `userAgents` in `responseElements["berth:aggregate"]`',
    )
    next = serializers.CharField(allow_null=True, help_text="pass as `next` for the following page; null on the last")


class QuestionQuerySerializer(serializers.Serializer):
    max_results = serializers.IntegerField(min_value=1, max_value=MAX_RESULTS, default=MAX_RESULTS)


class ImagePullsQuerySerializer(QuestionQuerySerializer):
    repository = serializers.CharField(max_length=REPOSITORY_NAME_MAX_LENGTH)
    digest = DigestField()


class PrincipalPullsQuerySerializer(QuestionQuerySerializer):
    principal = serializers.CharField(max_length=2048, help_text="an ARN, an IAM user name or an access key id")


class TagHistoryQuerySerializer(QuestionQuerySerializer):
    repository = serializers.CharField(max_length=REPOSITORY_NAME_MAX_LENGTH)
    tag = serializers.CharField(max_length=TAG_MAX_LENGTH)


class PullerSerializer(serializers.Serializer):
    type = serializers.CharField(source="actor_type", help_text="Root, IAMUser, AssumedRole or Anonymous")
    arn = serializers.CharField(source="actor_arn", help_text="empty for anonymous pulls")
    accountId = serializers.CharField(source="actor_account_id")


class ImagePullSerializer(serializers.Serializer):
    principal = PullerSerializer(source="*")
    sourceIPAddress = serializers.CharField(source="source_ip")
    pullCount = serializers.IntegerField(source="pulls")
    firstPullTime = serializers.DateTimeField(source="first_pull")
    lastPullTime = serializers.DateTimeField(source="last_pull")


class ImagePullsSerializer(serializers.Serializer):
    pulls = ImagePullSerializer(many=True, help_text="one per principal and source address, latest pull first")


class PrincipalPullSerializer(serializers.Serializer):
    registryId = serializers.CharField(source="recipient_account_id")
    repositoryName = serializers.CharField(source="repository")
    imageDigest = serializers.CharField(source="image_digest")
    pullCount = serializers.IntegerField(source="pulls")
    firstPullTime = serializers.DateTimeField(source="first_pull")
    lastPullTime = serializers.DateTimeField(source="last_pull")


class PrincipalPullsSerializer(serializers.Serializer):
    pulls = PrincipalPullSerializer(many=True, help_text="one per image, latest pull first")


class TagMoveSerializer(serializers.Serializer):
    eventTime = serializers.DateTimeField(source="event_time")
    imageDigest = serializers.CharField(source="image_digest", help_text="where the tag pointed after")
    previousImageDigest = serializers.SerializerMethodField(
        help_text="where it pointed before; null when the push created the tag"
    )
    principal = serializers.CharField(source="actor_arn")
    sourceIPAddress = serializers.CharField(source="source_ip")
    eventID = serializers.UUIDField(source="event_id")
    requestID = serializers.CharField(source="request_id")

    def get_previousImageDigest(self, event) -> str | None:
        return previous_digest(event)


class TagHistorySerializer(serializers.Serializer):
    history = TagMoveSerializer(many=True, help_text="newest first")

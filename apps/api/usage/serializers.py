"""Usage in the management API: what an account stores and serves (docs/usage.md)."""

from __future__ import annotations

from rest_framework import serializers

from apps.kernel.names import REPOSITORY_NAME_MAX_LENGTH
from apps.usage.selectors import MAX_DAYS

REFERENCED_HELP = (
    "bytes the repository references: each blob it links once, and its manifests; what a copy of it would take"
)
EXCLUSIVE_HELP = (
    "bytes that deleting the repository would free: the blobs no other repository links (of any account), and "
    "its manifests"
)


class UsageQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(
        min_value=1, max_value=MAX_DAYS, default=30, help_text=f"days back, today included (1..{MAX_DAYS})"
    )
    repository = serializers.CharField(
        required=False,
        max_length=REPOSITORY_NAME_MAX_LENGTH,
        help_text="one repository's usage (a deleted one's history too) instead of the account's",
    )


class StoredNowSerializer(serializers.Serializer):
    referencedBytes = serializers.IntegerField(source="referenced", help_text=REFERENCED_HELP)
    exclusiveBytes = serializers.IntegerField(source="exclusive", help_text=EXCLUSIVE_HELP)
    imageCount = serializers.IntegerField(source="images")


class RepositoryUsageSerializer(serializers.Serializer):
    name = serializers.CharField()
    referencedBytes = serializers.IntegerField(source="stored.referenced", help_text=REFERENCED_HELP)
    exclusiveBytes = serializers.IntegerField(source="stored.exclusive", help_text=EXCLUSIVE_HELP)
    imageCount = serializers.IntegerField(source="stored.images")
    servedBytes = serializers.IntegerField(source="served_bytes", help_text="bytes served over the days asked for")
    servedRequests = serializers.IntegerField(source="served_requests")


class StoredDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    referencedBytes = serializers.IntegerField(source="referenced")
    exclusiveBytes = serializers.IntegerField(source="exclusive")
    imageCount = serializers.IntegerField(source="images")
    live = serializers.BooleanField(help_text="true for today's figure, measured now; earlier days are snapshots")


class ServedDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    anonymousBytes = serializers.IntegerField(source="anonymous_bytes", help_text="to callers without credentials")
    anonymousRequests = serializers.IntegerField(source="anonymous_requests")
    signedInBytes = serializers.IntegerField(source="signed_in_bytes", help_text="to signed-in callers, of any account")
    signedInRequests = serializers.IntegerField(source="signed_in_requests")


class QuotaSerializer(serializers.Serializer):
    name = serializers.CharField(
        source="quota", help_text="storageBytes, repositories or imagesPerRepository (docs/quotas.md)"
    )
    limit = serializers.IntegerField(allow_null=True, help_text="the limit in force; null: unlimited")
    used = serializers.IntegerField(
        help_text="what counts against it now: the account's stored bytes (each blob once, and the manifests), its "
        "repositories, or the images (manifests) of its fullest repository"
    )
    repository = serializers.CharField(
        allow_null=True, help_text="imagesPerRepository: the fullest repository; null for the others"
    )


class UsageSerializer(serializers.Serializer):
    accountId = serializers.CharField(source="account_id")
    repository = serializers.CharField(allow_null=True, help_text="the repository asked for; null for the account")
    fromDay = serializers.DateField(source="first_day", help_text="the first day of the range (UTC)")
    toDay = serializers.DateField(source="last_day", help_text="the last day of the range: today (UTC)")
    now = StoredNowSerializer(
        help_text="stored bytes now: the account's (each blob once, however many of its repositories link it) or "
        "the repository's"
    )
    repositoryCount = serializers.IntegerField(source="repository_count")
    repositories = RepositoryUsageSerializer(many=True, help_text="each repository now, by name")
    stored = StoredDaySerializer(
        many=True, help_text="stored bytes per day: the daily snapshots (a day without one is absent), today live last"
    )
    served = ServedDaySerializer(
        many=True,
        help_text="bytes blob and manifest GETs sent per day, every day of the range; a web process publishes "
        "its counts at most a minute late",
    )
    quotas = QuotaSerializer(
        many=True,
        help_text="the account's quotas (whichever repository was asked for), each with what it uses now; a push "
        "past one is refused",
    )

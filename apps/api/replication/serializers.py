"""Shapes of replication in the management API, as Amazon ECR's API reference
names them (camelCase), with Berth's extensions."""

from __future__ import annotations

from rest_framework import serializers

from apps.api.registry.serializers import ImageIdentifierSerializer

# -- the configuration ------------------------------------------------------------------


class DestinationCredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=1024)
    password = serializers.CharField(max_length=1024, help_text="sealed at rest; never returned")


class DestinationInputSerializer(serializers.Serializer):
    region = serializers.CharField(help_text="the destination's region (BERTH_REGION of its deployment)")
    registryId = serializers.CharField(help_text="the destination account's 12-digit id")
    endpoint = serializers.URLField(
        required=False, help_text="Berth: the URL of another deployment (another region); absent for this one"
    )
    credentials = DestinationCredentialsSerializer(
        required=False,
        help_text="Berth: who signs in at the endpoint; left out on a later put, the configured ones are kept",
    )


class ReplicationRepositoryFilterSerializer(serializers.Serializer):
    filter = serializers.CharField(help_text="a prefix of repository names; `*` stands for any run of characters")
    filterType = serializers.ChoiceField(choices=["PREFIX_MATCH"])


class RuleInputSerializer(serializers.Serializer):
    destinations = DestinationInputSerializer(many=True, help_text="1 to 25")
    repositoryFilters = ReplicationRepositoryFilterSerializer(
        many=True, required=False, help_text="0 (every repository) to 100"
    )
    replicateDeletions = serializers.BooleanField(
        required=False, help_text="Berth: deletions replicate too (off by default, as in ECR)"
    )


class ConfigurationInputSerializer(serializers.Serializer):
    rules = RuleInputSerializer(many=True, help_text="0 (no replication) to 10")


class PutReplicationConfigurationSerializer(serializers.Serializer):
    # Checked by apps.replication.config, which says where a configuration is wrong as ECR does.
    replicationConfiguration = serializers.JSONField()


class PutReplicationConfigurationDocumentation(serializers.Serializer):
    replicationConfiguration = ConfigurationInputSerializer()


class ReplicationDestinationSerializer(serializers.Serializer):
    region = serializers.CharField()
    registryId = serializers.CharField()
    endpoint = serializers.CharField(required=False)
    credentialsConfigured = serializers.BooleanField(required=False, help_text="Berth: credentials are stored")
    username = serializers.CharField(required=False, help_text="Berth: the stored credentials' user name")


class ReplicationRuleSerializer(serializers.Serializer):
    destinations = ReplicationDestinationSerializer(many=True)
    repositoryFilters = ReplicationRepositoryFilterSerializer(many=True)
    replicateDeletions = serializers.BooleanField(required=False)


class ReplicationConfigurationSerializer(serializers.Serializer):
    rules = ReplicationRuleSerializer(many=True)


class PutReplicationConfigurationResponseSerializer(serializers.Serializer):
    replicationConfiguration = ReplicationConfigurationSerializer()


class DescribeRegistrySerializer(serializers.Serializer):
    registryId = serializers.CharField()
    replicationConfiguration = ReplicationConfigurationSerializer()


# -- an image's status ------------------------------------------------------------------


class ImageQuerySerializer(serializers.Serializer):
    imageDigest = serializers.CharField(required=False, max_length=1024)
    imageTag = serializers.CharField(required=False, max_length=300)


class RetryRequestSerializer(serializers.Serializer):
    imageId = ImageIdentifierSerializer()


class ReplicationStatusSerializer(serializers.Serializer):
    region = serializers.CharField(source="destination_region")
    registryId = serializers.CharField(source="destination_registry_id")
    endpoint = serializers.CharField(source="destination_endpoint", allow_blank=True, help_text="Berth; empty here")
    status = serializers.CharField(help_text="IN_PROGRESS, COMPLETE or FAILED")
    failureCode = serializers.CharField(
        source="failure_code", allow_blank=True, help_text="while IN_PROGRESS: the last try's, if it failed"
    )
    failureReason = serializers.CharField(source="failure_reason", allow_blank=True)
    attempts = serializers.IntegerField(help_text="Berth: tries so far")
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", help_text="Berth: when IN_PROGRESS")
    updatedAt = serializers.DateTimeField(source="updated_at")
    backfillId = serializers.UUIDField(source="backfill_id", allow_null=True)


class ImageIdOutSerializer(serializers.Serializer):
    imageDigest = serializers.CharField()
    imageTag = serializers.CharField(required=False)


class DescribeImageReplicationStatusSerializer(serializers.Serializer):
    registryId = serializers.CharField()
    repositoryName = serializers.CharField()
    imageId = ImageIdOutSerializer()
    replicationStatuses = ReplicationStatusSerializer(many=True)


# -- back-fills -------------------------------------------------------------------------


class StartBackfillSerializer(serializers.Serializer):
    ruleIndex = serializers.IntegerField(
        required=False, min_value=0, max_value=9, help_text="only this rule (from 0); absent: every rule"
    )


class BackfillFailureSerializer(serializers.Serializer):
    repositoryName = serializers.CharField(source="repository.name")
    imageDigest = serializers.CharField(source="image_digest")
    region = serializers.CharField(source="destination_region")
    registryId = serializers.CharField(source="destination_registry_id")
    endpoint = serializers.CharField(source="destination_endpoint", allow_blank=True)
    failureCode = serializers.CharField(source="failure_code")
    failureReason = serializers.CharField(source="failure_reason")


class BackfillSerializer(serializers.Serializer):
    backfillId = serializers.UUIDField(source="id")
    registryId = serializers.CharField(source="account_id")
    ruleIndex = serializers.IntegerField(source="rule_index", allow_null=True)
    status = serializers.CharField(help_text="RUNNING, COMPLETE, STOPPED or FAILED (finished, some copies failed)")
    total = serializers.IntegerField(help_text="copies scheduled: images × destinations")
    startedAt = serializers.DateTimeField(source="started_at")
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)


class BackfillListSerializer(serializers.Serializer):
    backfills = BackfillSerializer(many=True)


class BackfillResultsSerializer(BackfillSerializer):
    complete = serializers.IntegerField()
    failed = serializers.IntegerField()
    inProgress = serializers.IntegerField(source="in_progress")
    dropped = serializers.IntegerField(help_text="copies a stop dropped before they started")
    rules = serializers.JSONField(help_text="the rules when it started, as DescribeRegistry shows them")
    failures = BackfillFailureSerializer(many=True, help_text="the first 100 failed copies")

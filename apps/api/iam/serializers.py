"""Shapes of IAM's and STS's management API: camelCase JSON like Amazon ECR's and
the other endpoints', mapped (``source=``) onto the snake_case names the views use."""

from __future__ import annotations

from rest_framework import serializers

from apps.iam.models import DEFAULT_SESSION_SECONDS, MAX_SESSION_SECONDS, MIN_SESSION_SECONDS
from apps.iam.policy import MAX_POLICY_CHARACTERS

POLICY_TEXT_HELP = f"an IAM policy document (JSON text, at most {MAX_POLICY_CHARACTERS} characters)"


def policy_text_field(**kwargs) -> serializers.CharField:
    # Longer text is refused by the policy validator, whose message says how long it was.
    kwargs.setdefault("help_text", POLICY_TEXT_HELP)
    return serializers.CharField(trim_whitespace=False, **kwargs)


class RepositoryPolicySerializer(serializers.Serializer):
    registryId = serializers.CharField(source="registry_id", help_text="the account that owns the repository")
    repositoryName = serializers.CharField(source="repository_name")
    policyText = serializers.CharField(source="policy_text")


class SetRepositoryPolicySerializer(serializers.Serializer):
    policyText = policy_text_field(source="policy_text")


class UserSerializer(serializers.Serializer):
    userName = serializers.CharField(source="username", help_text="the name within the account")
    userId = serializers.CharField(source="pk")
    arn = serializers.CharField()
    isRoot = serializers.BooleanField(source="is_root")
    createDate = serializers.DateTimeField(source="date_joined")


class UserListSerializer(serializers.Serializer):
    users = UserSerializer(many=True)


class CreateUserSerializer(serializers.Serializer):
    userName = serializers.CharField(source="user_name", max_length=64)
    password = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        write_only=True,
        help_text="optional: lets the user sign in to the console and `docker login` with a password, as "
        "`<account id or alias>/<user name>`",
    )
    email = serializers.EmailField(required=False, allow_blank=True)


class ManagedPolicySerializer(serializers.Serializer):
    policyName = serializers.CharField(source="name")
    arn = serializers.CharField()
    path = serializers.CharField()
    description = serializers.CharField()
    isBuiltin = serializers.BooleanField(source="is_builtin")
    createDate = serializers.DateTimeField(source="created_at")
    updateDate = serializers.DateTimeField(source="updated_at")


class ManagedPolicyDetailSerializer(ManagedPolicySerializer):
    policyDocument = serializers.CharField(source="document")


class ManagedPolicyListSerializer(serializers.Serializer):
    policies = ManagedPolicySerializer(many=True)


class CreatePolicySerializer(serializers.Serializer):
    policyName = serializers.CharField(source="policy_name", max_length=128)
    policyDocument = policy_text_field(source="policy_document")
    path = serializers.CharField(required=False, default="/", max_length=512)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class AttachedPolicySerializer(serializers.Serializer):
    policyName = serializers.CharField(source="policy.name")
    policyArn = serializers.CharField(source="policy.arn")


class AttachedPolicyListSerializer(serializers.Serializer):
    attachedPolicies = AttachedPolicySerializer(source="attached_policies", many=True)


class AttachPolicySerializer(serializers.Serializer):
    policyArn = serializers.CharField(
        source="policy_arn",
        max_length=2048,
        help_text="a policy ARN (`arn:berth:iam::<account>:policy/<name>`, `arn:berth:iam::berth:policy/<name>` for "
        "built-ins, `arn:aws:` reads the same) or a policy name",
    )


class RoleSerializer(serializers.Serializer):
    roleName = serializers.CharField(source="name")
    roleId = serializers.CharField(source="pk")
    arn = serializers.CharField()
    path = serializers.CharField()
    description = serializers.CharField()
    maxSessionDuration = serializers.IntegerField(source="max_session_duration")
    createDate = serializers.DateTimeField(source="created_at")


class RoleDetailSerializer(RoleSerializer):
    assumeRolePolicyDocument = serializers.CharField(source="trust_policy")


class RoleListSerializer(serializers.Serializer):
    roles = RoleSerializer(many=True)


class CreateRoleSerializer(serializers.Serializer):
    roleName = serializers.CharField(source="role_name", max_length=64)
    assumeRolePolicyDocument = policy_text_field(
        source="assume_role_policy_document", help_text="the trust policy: who may assume the role"
    )
    path = serializers.CharField(required=False, default="/", max_length=512)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)
    maxSessionDuration = serializers.IntegerField(
        source="max_session_duration",
        required=False,
        default=DEFAULT_SESSION_SECONDS,
        min_value=DEFAULT_SESSION_SECONDS,
        max_value=MAX_SESSION_SECONDS,
    )


class UpdateTrustPolicySerializer(serializers.Serializer):
    policyDocument = policy_text_field(source="policy_document")


class AssumeRoleSerializer(serializers.Serializer):
    roleArn = serializers.CharField(source="role_arn", max_length=2048)
    roleSessionName = serializers.CharField(source="role_session_name", max_length=64)
    durationSeconds = serializers.IntegerField(
        source="duration_seconds",
        required=False,
        default=DEFAULT_SESSION_SECONDS,
        min_value=MIN_SESSION_SECONDS,
        max_value=MAX_SESSION_SECONDS,
    )


class CredentialsSerializer(serializers.Serializer):
    accessKeyId = serializers.CharField(source="access_key_id")
    secretAccessKey = serializers.CharField(source="secret_access_key", help_text="shown this once")
    sessionToken = serializers.CharField(source="session_token")
    expiration = serializers.DateTimeField()


class AssumedRoleUserSerializer(serializers.Serializer):
    arn = serializers.CharField()
    assumedRoleId = serializers.CharField(source="assumed_role_id")


class AssumeRoleResponseSerializer(serializers.Serializer):
    credentials = CredentialsSerializer()
    assumedRoleUser = AssumedRoleUserSerializer(source="assumed_role_user")


class CallerIdentitySerializer(serializers.Serializer):
    account = serializers.CharField()
    arn = serializers.CharField()
    userId = serializers.CharField(source="user_id")


class SimulateSerializer(serializers.Serializer):
    principalArn = serializers.CharField(source="principal_arn", max_length=2048)
    actions = serializers.ListField(child=serializers.CharField(max_length=256), min_length=1, max_length=100)
    resourceArn = serializers.CharField(source="resource_arn", max_length=2048, required=False, default="*")
    sourceIp = serializers.IPAddressField(source="source_ip", required=False, allow_null=True, default=None)
    context = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        default=dict,
        help_text="further condition keys and their values (a list for a multi-valued key)",
    )


class MatchedStatementSerializer(serializers.Serializer):
    policy = serializers.CharField()
    sid = serializers.CharField(allow_null=True)
    index = serializers.IntegerField(help_text="the statement's position, counted from 1")


class SimulationResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    decision = serializers.ChoiceField(choices=["allowed", "explicit_deny", "implicit_deny"])
    matchedStatements = MatchedStatementSerializer(source="matched_statements", many=True)
    explanation = serializers.CharField()


class SimulationSerializer(serializers.Serializer):
    principalArn = serializers.CharField(source="principal_arn")
    resourceArn = serializers.CharField(source="resource_arn")
    results = SimulationResultSerializer(many=True)

from rest_framework import serializers

from apps.accounts.models import REGISTRY_DISPLAY_NAME_MAX_LENGTH, AccessKeyStatus
from apps.accounts.registries import RegistryAliasStatus


class AccessKeySerializer(serializers.Serializer):
    accessKeyId = serializers.CharField(source="access_key_id")
    status = serializers.ChoiceField(choices=AccessKeyStatus.choices)
    createdAt = serializers.DateTimeField(source="created_at")
    lastUsedAt = serializers.DateTimeField(
        source="last_used_at", allow_null=True, help_text="to the minute; null until the key is first used"
    )


class NewAccessKeySerializer(serializers.Serializer):
    accessKeyId = serializers.CharField(source="access_key.access_key_id")
    secretAccessKey = serializers.CharField(source="secret", help_text="shown this once; Berth keeps only a hash")
    status = serializers.ChoiceField(source="access_key.status", choices=AccessKeyStatus.choices)
    createdAt = serializers.DateTimeField(source="access_key.created_at")


class AccessKeyListSerializer(serializers.Serializer):
    accessKeys = AccessKeySerializer(many=True)


class AccessKeyUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=AccessKeyStatus.choices)


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(
        max_length=150,
        help_text="the root user's own user name (its email, for a sign-up), or an IAM user's "
        "`<account id or alias>/<user name>`",
    )
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class AuthorizationTokenSerializer(serializers.Serializer):
    authorizationToken = serializers.CharField(
        help_text="base64 of `berth:<password>`, like Amazon ECR's (`AWS:<password>`): what a Docker "
        "config.json `auth` entry holds"
    )
    username = serializers.CharField(help_text="`berth`; `AWS` is accepted too, for scripts written for ECR")
    password = serializers.CharField(
        help_text="the login password: `docker login --username berth --password-stdin <host>`, or "
        "`Authorization: Bearer <password>` on this API"
    )
    expiresAt = serializers.DateTimeField(help_text="when the password stops working")
    proxyEndpoint = serializers.CharField(help_text="the registry's URL; `docker login` takes its host")


# -- the public registry (Amazon ECR Public) --------------------------------------------


class RegistryCatalogDataSerializer(serializers.Serializer):
    displayName = serializers.CharField(
        source="display_name",
        max_length=REGISTRY_DISPLAY_NAME_MAX_LENGTH,
        allow_blank=True,
        help_text=f"the publisher name the gallery shows for the account's public repositories (at most "
        f"{REGISTRY_DISPLAY_NAME_MAX_LENGTH} characters; empty for none)",
    )


class RegistryAliasSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=RegistryAliasStatus.choices, help_text="an alias in use is ACTIVE")
    primaryRegistryAlias = serializers.BooleanField(
        source="is_primary", help_text="the alias in the account's public repository and image URIs"
    )
    defaultRegistryAlias = serializers.BooleanField(
        source="is_default", help_text="the alias the account was given when it was created"
    )


class RegistrySerializer(serializers.Serializer):
    registryId = serializers.CharField(source="account.id", help_text="the account id")
    registryUri = serializers.SerializerMethodField(help_text="`<host>/<primary alias>`")
    verified = serializers.BooleanField(
        source="account.verified", help_text="a publisher Berth's staff have verified; they alone set this"
    )
    aliases = RegistryAliasSerializer(many=True)

    def get_registryUri(self, registry) -> str:
        alias = registry.primary_alias
        return f"{self.context['host']}/{alias}" if alias else self.context["host"]


class RegistryListSerializer(serializers.Serializer):
    registries = RegistrySerializer(many=True, help_text="an account has one registry")

from rest_framework import serializers

from .models import AccessKeyStatus


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
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import (
    REPOSITORY_NAME_MAX_LENGTH,
    REPOSITORY_NAME_PATTERN,
    RESOURCE_TAG_KEY_MAX_LENGTH,
    RESOURCE_TAG_PATTERN,
    RESOURCE_TAG_VALUE_MAX_LENGTH,
    RESOURCE_TAGS_PER_REPOSITORY,
    TagMutability,
    Visibility,
)
from .mutability import EXCLUSION_FILTER_PATTERN, MAX_EXCLUSION_FILTERS
from .selectors import repository_uri, total_size

_TAG_CHARACTERS = "letters, digits, spaces and _ . : / = + - @"


class ResourceTagSerializer(serializers.Serializer):
    key = serializers.CharField(
        max_length=RESOURCE_TAG_KEY_MAX_LENGTH,
        trim_whitespace=False,
        validators=[RegexValidator(RESOURCE_TAG_PATTERN, f"a tag key holds {_TAG_CHARACTERS}")],
    )
    value = serializers.CharField(
        max_length=RESOURCE_TAG_VALUE_MAX_LENGTH,
        allow_blank=True,
        trim_whitespace=False,
        validators=[RegexValidator(RESOURCE_TAG_PATTERN, f"a tag value holds {_TAG_CHARACTERS}")],
    )


def resource_tags_field(**kwargs) -> serializers.ListField:
    kwargs.setdefault(
        "help_text", f"resource tags (metadata, not image tags): up to {RESOURCE_TAGS_PER_REPOSITORY}, keys unique"
    )
    return serializers.ListField(child=ResourceTagSerializer(), max_length=RESOURCE_TAGS_PER_REPOSITORY, **kwargs)


def exclusion_filters_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(
            max_length=128,
            validators=[
                RegexValidator(
                    EXCLUSION_FILTER_PATTERN, "a filter holds tag characters (letters, digits, . _ -) and '*'"
                )
            ],
        ),
        max_length=MAX_EXCLUSION_FILTERS,
        help_text="tags matching one of these wildcard filters (`latest`, `dev-*`; `*` is the only wildcard) "
        "take the opposite rule; required with, and only with, the *_WITH_EXCLUSION settings",
        **kwargs,
    )


def validate_unique_keys(tags: list[dict]) -> list[dict]:
    keys = [tag["key"] for tag in tags]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise serializers.ValidationError(f"tag keys must be unique: {', '.join(duplicates)}", code="unique")
    return tags


SCAN_ON_PUSH_HELP = "stored now; images are scanned on push once Berth's scanner arrives (a later release)"


class RepositorySerializer(serializers.Serializer):
    name = serializers.CharField()
    accountId = serializers.CharField(source="account_id")
    visibility = serializers.ChoiceField(choices=Visibility.choices)
    uri = serializers.SerializerMethodField(
        help_text="`<host>/<account-id>/<name>`, or for a public repository `<host>/<alias>/<name>`"
    )
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    imageTagMutability = serializers.ChoiceField(source="image_tag_mutability", choices=TagMutability.choices)
    imageTagMutabilityExclusionFilters = serializers.ListField(
        source="image_tag_mutability_exclusion_filters", child=serializers.CharField()
    )
    scanOnPush = serializers.BooleanField(source="scan_on_push", help_text=SCAN_ON_PUSH_HELP)
    tags = serializers.SerializerMethodField()
    imageCount = serializers.IntegerField(
        source="image_count", help_text="image manifests (an index's entries count, the index does not)"
    )
    totalSize = serializers.SerializerMethodField(
        help_text="bytes of the image manifests' layers and configs; null while a new image is still being measured"
    )

    def get_uri(self, repository) -> str:
        return repository_uri(repository, host=self.context["host"], default_alias=self.context["default_alias"])

    @extend_schema_field(ResourceTagSerializer(many=True))
    def get_tags(self, repository):
        tags = sorted(repository.resource_tags.all(), key=lambda tag: tag.key)
        return ResourceTagSerializer(tags, many=True).data

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_totalSize(self, repository):
        return total_size(repository)


class CreateRepositorySerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=REPOSITORY_NAME_MAX_LENGTH,
        validators=[
            RegexValidator(
                REPOSITORY_NAME_PATTERN,
                "lowercase letters, digits and separators (., _, __, -), path components joined by '/'",
            )
        ],
        help_text="may contain '/' (`team/app`); unique in the account",
    )
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PRIVATE)
    imageTagMutability = serializers.ChoiceField(choices=TagMutability.choices, default=TagMutability.MUTABLE)
    imageTagMutabilityExclusionFilters = exclusion_filters_field(default=list)
    scanOnPush = serializers.BooleanField(default=False, help_text=SCAN_ON_PUSH_HELP)
    tags = resource_tags_field(default=list)

    def validate_tags(self, tags):
        return validate_unique_keys(tags)


class UpdateRepositorySerializer(serializers.Serializer):
    """Every field optional; what is left out stays as it is."""

    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    imageTagMutability = serializers.ChoiceField(
        choices=TagMutability.choices, required=False,
        help_text="given alone, drops exclusion filters the new setting cannot have",
    )
    imageTagMutabilityExclusionFilters = exclusion_filters_field(required=False)
    scanOnPush = serializers.BooleanField(required=False, help_text=SCAN_ON_PUSH_HELP)
    tags = resource_tags_field(required=False, help_text="replaces all of the repository's resource tags")

    def validate_tags(self, tags):
        return validate_unique_keys(tags)


class ImageTagMutabilitySerializer(serializers.Serializer):
    imageTagMutability = serializers.ChoiceField(choices=TagMutability.choices)
    imageTagMutabilityExclusionFilters = exclusion_filters_field(default=list)


class RepositoryListQuerySerializer(serializers.Serializer):
    max_results = serializers.IntegerField(min_value=1, max_value=1000, default=100)
    next = serializers.CharField(required=False, help_text="the `next` token of the previous page")
    name_prefix = serializers.CharField(required=False, max_length=REPOSITORY_NAME_MAX_LENGTH)


class RepositoryPageSerializer(serializers.Serializer):
    repositories = RepositorySerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="pass as `next` for the following page; null on the last")


class DeleteRepositoryQuerySerializer(serializers.Serializer):
    force = serializers.BooleanField(default=False, help_text="delete the repository's images with it")

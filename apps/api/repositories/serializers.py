import base64
import binascii
import re
from collections.abc import Sequence

from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.registry.selectors import StoredBytes, total_size
from apps.repositories.models import (
    CATALOG_BADGE_MAX_LENGTH,
    CATALOG_BADGES_MAX,
    CATALOG_DESCRIPTION_MAX_LENGTH,
    CATALOG_TEXT_MAX_LENGTH,
    LOGO_MAX_BYTES,
    LOGO_MAX_SIDE,
    LOGO_MIN_SIDE,
    RECOGNISED_ARCHITECTURES,
    RECOGNISED_OPERATING_SYSTEMS,
    REPOSITORY_NAME_MAX_LENGTH,
    REPOSITORY_NAME_PATTERN,
    RESOURCE_TAG_KEY_MAX_LENGTH,
    RESOURCE_TAG_PATTERN,
    RESOURCE_TAG_VALUE_MAX_LENGTH,
    RESOURCE_TAGS_PER_REPOSITORY,
    LogoContentType,
    TagMutability,
    Visibility,
)
from apps.repositories.mutability import EXCLUSION_FILTER_PATTERN, MAX_EXCLUSION_FILTERS
from apps.repositories.selectors import repository_uri
from apps.repositories.services import encryption_configuration

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


class RepositoryEncryptionSerializer(serializers.Serializer):
    encryptionType = serializers.CharField(
        help_text="`AES256` (S3's SSE-S3; on the filesystem, envelope encryption under Berth's master key) or "
        "`KMS` (S3's SSE-KMS; on the filesystem, a key of Berth's key ring); `KMS_DSSE` is refused"
    )
    kmsKey = serializers.CharField(
        required=False, help_text="KMS only: the key (S3: key id, ARN or alias; filesystem: a key ring name)"
    )


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
    encryptionConfiguration = serializers.SerializerMethodField(
        help_text="how the repository's blobs are encrypted at rest (`encryptionType` AES256 or KMS, with "
        "`kmsKey`); null when they are not. Chosen at creation, never changed."
    )
    tags = serializers.SerializerMethodField()
    imageCount = serializers.IntegerField(
        source="image_count", help_text="image manifests (an index's entries count, the index does not)"
    )
    totalSize = serializers.SerializerMethodField(
        help_text="bytes of the image manifests' layers and configs; null while a new image is still being measured"
    )
    referencedBytes = serializers.SerializerMethodField(
        help_text="bytes stored for the repository: each blob it links once, and its manifests (indexes, images "
        "and artifacts alike); what a copy of it would take"
    )
    exclusiveBytes = serializers.SerializerMethodField(
        help_text="the part of referencedBytes no other repository (of any account) shares: what deleting the "
        "repository would free"
    )

    def _stored(self, repository) -> StoredBytes:
        return self.context["stored"].get(repository.pk, StoredBytes())

    def get_referencedBytes(self, repository) -> int:
        return self._stored(repository).referenced

    def get_exclusiveBytes(self, repository) -> int:
        return self._stored(repository).exclusive

    @extend_schema_field(RepositoryEncryptionSerializer(allow_null=True))
    def get_encryptionConfiguration(self, repository):
        return encryption_configuration(repository)

    def get_uri(self, repository) -> str:
        return repository_uri(repository, host=self.context["host"], primary_alias=self.context["primary_alias"])

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
    encryptionConfiguration = RepositoryEncryptionSerializer(
        required=False,
        allow_null=True,
        help_text="left out: the registry's default (BERTH_DEFAULT_ENCRYPTION); null: not encrypted",
    )

    def validate_tags(self, tags):
        return validate_unique_keys(tags)


class UpdateRepositorySerializer(serializers.Serializer):
    """Every field optional; what is left out stays as it is."""

    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    imageTagMutability = serializers.ChoiceField(
        choices=TagMutability.choices,
        required=False,
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


# -- catalog data (Amazon ECR Public) ---------------------------------------------------

_BADGES_HELP = (
    "up to {max} values of 1 to {length} characters, each once; {recognised} show as badges in the gallery "
    "(and filter its search), other values are kept and returned but are not badges"
)
# A logo at the size limit in base64, plus room for the line breaks of wrapped base64.
_LOGO_BASE64_MAX_LENGTH = 4 * -(-LOGO_MAX_BYTES // 3) * 33 // 32


def badges_field(recognised: Sequence[str], **kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(min_length=1, max_length=CATALOG_BADGE_MAX_LENGTH),
        max_length=CATALOG_BADGES_MAX,
        help_text=_BADGES_HELP.format(
            max=CATALOG_BADGES_MAX,
            length=CATALOG_BADGE_MAX_LENGTH,
            recognised=", ".join(f"`{value}`" for value in recognised),
        ),
        **kwargs,
    )


@extend_schema_field(OpenApiTypes.BYTE)
class Base64Field(serializers.Field):
    """Standard base64 (line breaks allowed) in, the decoded bytes out."""

    default_error_messages = {
        "invalid": "a base64 string is expected",
        "invalid_base64": "not valid base64",
        "max_length": "at most {max_length:,} characters of base64",
    }

    def __init__(self, *, max_length: int, **kwargs) -> None:
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> bytes:
        if not isinstance(data, str):
            self.fail("invalid")
        if len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        try:
            return base64.b64decode(re.sub(r"\s+", "", data), validate=True)
        except (binascii.Error, ValueError):
            self.fail("invalid_base64")

    def to_representation(self, value: bytes) -> str:
        return base64.b64encode(value).decode()


class PutRepositoryCatalogDataSerializer(serializers.Serializer):
    """Every field optional; what is left out stays as it is."""

    description = serializers.CharField(
        max_length=CATALOG_DESCRIPTION_MAX_LENGTH,
        allow_blank=True,
        trim_whitespace=False,
        required=False,
        help_text=f"a short, plain text description (at most {CATALOG_DESCRIPTION_MAX_LENGTH:,} characters); "
        "the gallery shows it in search results",
    )
    aboutText = serializers.CharField(
        max_length=CATALOG_TEXT_MAX_LENGTH,
        allow_blank=True,
        trim_whitespace=False,
        required=False,
        help_text=f"Markdown (CommonMark with tables), at most {CATALOG_TEXT_MAX_LENGTH:,} characters: what the "
        "images are. Raw HTML in it is shown as text",
    )
    usageText = serializers.CharField(
        max_length=CATALOG_TEXT_MAX_LENGTH,
        allow_blank=True,
        trim_whitespace=False,
        required=False,
        help_text=f"Markdown (CommonMark with tables), at most {CATALOG_TEXT_MAX_LENGTH:,} characters: how to use "
        "the images. Raw HTML in it is shown as text",
    )
    architectures = badges_field(RECOGNISED_ARCHITECTURES, required=False)
    operatingSystems = badges_field(RECOGNISED_OPERATING_SYSTEMS, required=False)
    logoImageBlob = Base64Field(
        max_length=_LOGO_BASE64_MAX_LENGTH,
        allow_null=True,
        required=False,
        help_text=f"the logo, base64: a PNG or JPEG image of at most {LOGO_MAX_BYTES:,} bytes, each side "
        f"{LOGO_MIN_SIDE} to {LOGO_MAX_SIDE} pixels (what it is is read from its bytes). null or an empty "
        "string removes the logo",
    )


class LogoSerializer(serializers.Serializer):
    contentType = serializers.ChoiceField(source="logo_content_type", choices=LogoContentType.choices)
    width = serializers.IntegerField(source="logo_width")
    height = serializers.IntegerField(source="logo_height")
    digest = serializers.CharField(source="logo_digest", help_text="`sha256:<hex>` of the image; its ETag")


class RepositoryCatalogDataSerializer(serializers.Serializer):
    description = serializers.CharField()
    aboutText = serializers.CharField(source="about_markdown", help_text="the Markdown, as it was put")
    usageText = serializers.CharField(source="usage_markdown", help_text="the Markdown, as it was put")
    aboutHtml = serializers.CharField(source="about_html", help_text="the about text rendered, sanitized HTML")
    usageHtml = serializers.CharField(source="usage_html", help_text="the usage text rendered, sanitized HTML")
    architectures = serializers.ListField(child=serializers.CharField())
    operatingSystems = serializers.ListField(source="operating_systems", child=serializers.CharField())
    logoUrl = serializers.SerializerMethodField(help_text="where the logo's image is; null without a logo")
    logo = serializers.SerializerMethodField(help_text="what the logo is; null without one")
    updatedAt = serializers.DateTimeField(
        source="updated_at", allow_null=True, help_text="null until catalog data is first put"
    )

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_logoUrl(self, catalog):
        return self.context["logo_url"] if catalog.has_logo else None

    @extend_schema_field(LogoSerializer(allow_null=True))
    def get_logo(self, catalog):
        return LogoSerializer(catalog).data if catalog.has_logo else None

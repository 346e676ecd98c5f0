"""Shapes of the management API's image operations (Amazon ECR's names)."""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.api.scanning.summaries import (
    FindingsSummarySerializer,
    ImageScanStatusSerializer,
    findings_summary,
    scan_status,
)
from apps.kernel.digests import DigestInvalid, parse_digest
from apps.registry.models import DIGEST_MAX_LENGTH, TAG_MAX_LENGTH
from apps.registry.selectors import FailureCode, TagStatus

MAX_IMAGE_IDS = 100
# models.TAG_PATTERN's characters; max_length says the length.
_TAG_CHARACTERS = r"^[a-zA-Z0-9_][a-zA-Z0-9._-]*\Z"
MAX_ACCEPTED_MEDIA_TYPES = 100
_TAG_RULE = (
    f"1 to {TAG_MAX_LENGTH} letters, digits, '_', '.' and '-', not starting with '.' or '-' "
    "(the OCI tag grammar, with Amazon ECR's length)"
)


# -- image ids ------------------------------------------------------------------------


class ImageIdentifierSerializer(serializers.Serializer):
    """In a request, malformed values are not refused here: each id of a batch
    fails on its own (InvalidImageDigest, InvalidImageTag, MissingDigestAndTag)."""

    imageDigest = serializers.CharField(
        required=False,
        max_length=1024,
        trim_whitespace=False,
        help_text="`sha256:<hex>`; with imageTag, the digest the tag must point at",
    )
    imageTag = serializers.CharField(
        required=False, max_length=TAG_MAX_LENGTH, trim_whitespace=False, help_text=_TAG_RULE
    )


def image_ids_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(child=ImageIdentifierSerializer(), min_length=1, max_length=MAX_IMAGE_IDS, **kwargs)


def image_id_pairs(image_ids: list[dict]) -> list[tuple[str | None, str | None]]:
    """(digest, tag) of each id, each distinct id once, in the order given."""
    return list(dict.fromkeys((image_id.get("imageDigest"), image_id.get("imageTag")) for image_id in image_ids))


def image_id(digest: str | None, tag: str | None) -> dict:
    return {
        **({"imageDigest": digest} if digest is not None else {}),
        **({"imageTag": tag} if tag is not None else {}),
    }


class ImageFailureSerializer(serializers.Serializer):
    imageId = ImageIdentifierSerializer(help_text="the image id as it was asked for")
    failureCode = serializers.ChoiceField(choices=FailureCode.choices)
    failureReason = serializers.CharField()


# -- ListImages -----------------------------------------------------------------------


class ImagesQuerySerializer(serializers.Serializer):
    tagStatus = serializers.ChoiceField(
        choices=TagStatus.choices,
        default=TagStatus.ANY,
        help_text="TAGGED: images with at least one tag; UNTAGGED: images without; ANY: both",
    )
    max_results = serializers.IntegerField(min_value=1, max_value=1000, default=100)
    next = serializers.CharField(required=False, help_text="the `next` token of the previous page")


class ImageIdPageSerializer(serializers.Serializer):
    imageIds = ImageIdentifierSerializer(
        many=True, help_text="one per tag of each image, and one (without imageTag) per untagged image"
    )
    next = serializers.CharField(allow_null=True, help_text="pass as `next` for the following page; null on the last")


# -- DescribeImages -------------------------------------------------------------------


class PlatformSerializer(serializers.Serializer):
    os = serializers.CharField()
    architecture = serializers.CharField()
    variant = serializers.CharField(required=False)


class ImageDetailSerializer(serializers.Serializer):
    registryId = serializers.SerializerMethodField(help_text="the account id")
    repositoryName = serializers.SerializerMethodField()
    imageDigest = serializers.CharField(source="digest")
    imageTags = serializers.SerializerMethodField(help_text="in byte order")
    imageSizeInBytes = serializers.IntegerField(
        source="total_size",
        allow_null=True,
        help_text="bytes of the config and layers (of an index: of the images it lists); "
        "null while a new image is still being measured",
    )
    imagePushedAt = serializers.DateTimeField(source="created_at")
    imageManifestMediaType = serializers.CharField(source="media_type")
    artifactMediaType = serializers.SerializerMethodField(
        help_text="the manifest's artifactType, else its config's media type; null for an index or schema 1"
    )
    lastRecordedPullTime = serializers.DateTimeField(
        source="last_pulled_at",
        allow_null=True,
        help_text="when a pull (a /v2/ manifest GET or BatchGetImage) last fetched it, recorded to the minute; "
        "null if never",
    )
    layerCount = serializers.IntegerField(
        source="layer_count", allow_null=True, help_text="Berth's addition; null for an index, or until measured"
    )
    platforms = PlatformSerializer(
        many=True, help_text="Berth's addition: the image's os/architecture, or those of an index's entries"
    )
    imageScanStatus = serializers.SerializerMethodField(help_text="null when the image was never scanned")
    imageScanFindingsSummary = serializers.SerializerMethodField(
        help_text="the severity counts of the last complete scan; null before one"
    )

    def get_registryId(self, manifest) -> str:
        return self.context["repository"].account_id

    def get_repositoryName(self, manifest) -> str:
        return self.context["repository"].name

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_imageTags(self, manifest):
        return sorted(tag.name for tag in manifest.tags.all())

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_artifactMediaType(self, manifest):
        return manifest.artifact_type or manifest.config_media_type or None

    @extend_schema_field(ImageScanStatusSerializer(allow_null=True))
    def get_imageScanStatus(self, manifest):
        return scan_status(_scan(manifest))

    @extend_schema_field(FindingsSummarySerializer(allow_null=True))
    def get_imageScanFindingsSummary(self, manifest):
        summary = findings_summary(_scan(manifest))
        return None if summary is None else FindingsSummarySerializer(summary).data


def _scan(manifest):
    """The manifest's scan (prefetched by the view), or None."""
    try:
        return manifest.scan
    except ObjectDoesNotExist:
        return None


class DescribeImagesRequestSerializer(serializers.Serializer):
    """Either imageIds, or the listing's filter and paging; nothing is required."""

    imageIds = image_ids_field(required=False, help_text=f"the images to describe, at most {MAX_IMAGE_IDS}")
    tagStatus = serializers.ChoiceField(choices=TagStatus.choices, required=False, help_text="without imageIds")
    max_results = serializers.IntegerField(min_value=1, max_value=1000, required=False, help_text="without imageIds")
    next = serializers.CharField(required=False, help_text="without imageIds")

    def validate(self, data):
        combined = sorted({"tagStatus", "max_results", "next"} & set(data))
        if "imageIds" in data and combined:
            raise serializers.ValidationError(f"imageIds cannot be combined with {', '.join(combined)}", code="invalid")
        return data


class ImageDetailPageSerializer(serializers.Serializer):
    imageDetails = ImageDetailSerializer(many=True)
    next = serializers.CharField(
        allow_null=True, help_text="pass as `next` for the following page; null on the last (always with imageIds)"
    )


# -- BatchGetImage / PutImage ---------------------------------------------------------


class ImageSerializer(serializers.Serializer):
    registryId = serializers.CharField(help_text="the account id")
    repositoryName = serializers.CharField()
    imageId = ImageIdentifierSerializer(help_text="the digest of the manifest returned, and the tag asked for")
    imageManifest = serializers.CharField(help_text="the manifest, byte for byte, as a string")
    imageManifestMediaType = serializers.CharField()


class BatchGetImageRequestSerializer(serializers.Serializer):
    imageIds = image_ids_field(help_text=f"at most {MAX_IMAGE_IDS}")
    acceptedMediaTypes = serializers.ListField(
        child=serializers.CharField(max_length=255),
        min_length=1,
        max_length=MAX_ACCEPTED_MEDIA_TYPES,
        required=False,
        help_text="the manifest media types the caller reads, as a registry client's Accept header; "
        "left out, every image comes as stored",
    )


class BatchGetImageResponseSerializer(serializers.Serializer):
    images = ImageSerializer(many=True)
    failures = ImageFailureSerializer(many=True)


class BatchDeleteImageRequestSerializer(serializers.Serializer):
    imageIds = image_ids_field(help_text=f"at most {MAX_IMAGE_IDS}")
    withDependents = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Berth's own: also delete what only these images held — their referrers (signatures, SBOMs) "
        "and the untagged entries of an index that no other index lists — so that their bytes can be freed",
    )


class BatchDeleteImageResponseSerializer(serializers.Serializer):
    imageIds = ImageIdentifierSerializer(many=True, help_text="what was deleted: one per tag removed")
    failures = ImageFailureSerializer(many=True)


class PutImageSerializer(serializers.Serializer):
    imageManifest = serializers.CharField(
        trim_whitespace=False,
        help_text=f"the manifest, stored byte for byte (UTF-8); at most {settings.BERTH_MAX_MANIFEST_BYTES} bytes",
    )
    imageManifestMediaType = serializers.CharField(
        required=False, max_length=255, help_text="left out, the manifest's own mediaType says"
    )
    imageTag = serializers.CharField(
        required=False,
        max_length=TAG_MAX_LENGTH,
        trim_whitespace=False,
        validators=[RegexValidator(_TAG_CHARACTERS, f"a tag holds {_TAG_RULE}")],
        help_text=f"{_TAG_RULE}; left out, the image is stored untagged",
    )
    imageDigest = serializers.CharField(
        required=False,
        max_length=DIGEST_MAX_LENGTH,
        trim_whitespace=False,
        help_text="if given, the manifest's digest must be this",
    )

    def validate_imageManifest(self, manifest: str) -> str:
        try:
            size = len(manifest.encode())
        except UnicodeEncodeError:
            raise serializers.ValidationError("the manifest is not valid Unicode text", code="invalid") from None
        if size > settings.BERTH_MAX_MANIFEST_BYTES:
            raise serializers.ValidationError(
                f"the manifest is {size} bytes; the limit is {settings.BERTH_MAX_MANIFEST_BYTES}", code="max_length"
            )
        return manifest

    def validate_imageDigest(self, digest: str) -> str:
        try:
            parse_digest(digest)
        except DigestInvalid as exc:
            raise serializers.ValidationError(exc.message, code="invalid") from None
        return digest

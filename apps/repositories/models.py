from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

from apps.accounts.models import Account
from apps.kernel import images
from apps.kernel.images import LOGO_MAX_BYTES, LOGO_MAX_SIDE, LOGO_MIN_SIDE  # noqa: F401  (re-exported)
from apps.kernel.names import REPOSITORY_NAME_MAX_LENGTH, REPOSITORY_NAME_PATTERN


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    PUBLIC = "public", "Public"


class TagMutability(models.TextChoices):
    """Amazon ECR's settings. The exclusion filters of the two *_WITH_EXCLUSION
    settings name the tags that take the opposite rule."""

    MUTABLE = "MUTABLE", "Mutable"
    IMMUTABLE = "IMMUTABLE", "Immutable"
    IMMUTABLE_WITH_EXCLUSION = "IMMUTABLE_WITH_EXCLUSION", "Immutable, except tags matching a filter"
    MUTABLE_WITH_EXCLUSION = "MUTABLE_WITH_EXCLUSION", "Mutable, except tags matching a filter"


class RepositoryEncryption(models.TextChoices):
    """How a repository's blobs are encrypted at rest, chosen at creation and never
    changed (apps.registry.storage.encryption; docs/encryption.md)."""

    NONE = "", "None"
    AES256 = "AES256", "AES256"
    KMS = "KMS", "KMS"


KMS_KEY_MAX_LENGTH = 2048


class Repository(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="repositories")
    name = models.CharField(max_length=REPOSITORY_NAME_MAX_LENGTH, validators=[RegexValidator(REPOSITORY_NAME_PATTERN)])
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE)
    image_tag_mutability = models.CharField(max_length=24, choices=TagMutability.choices, default=TagMutability.MUTABLE)
    # Wildcard patterns (`latest`, `dev-*`), only with the *_WITH_EXCLUSION settings.
    image_tag_mutability_exclusion_filters = models.JSONField(default=list, blank=True)
    # Stored for now; scanning images on push arrives with the scanner.
    scan_on_push = models.BooleanField(default=False)
    # Set by staff (a public repository breaking the terms: malware, a trademark): it leaves
    # the gallery and nobody outside its account may pull it until staff restore it. Its
    # owner keeps every right on it, and nothing of it is deleted.
    taken_down_at = models.DateTimeField(null=True, blank=True, editable=False)
    takedown_reason = models.TextField(blank=True, default="", editable=False)
    # Encryption at rest: immutable (no service changes them). KMS names its key (S3:
    # a KMS key id, ARN or alias; filesystem: a key of Berth's key ring).
    encryption_type = models.CharField(
        max_length=8, choices=RepositoryEncryption.choices, blank=True, default="", editable=False
    )
    kms_key = models.CharField(max_length=KMS_KEY_MAX_LENGTH, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "repositories"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(encryption_type__in=["", "AES256"], kms_key="")
                | (models.Q(encryption_type="KMS") & ~models.Q(kms_key="")),
                name="repository_encryption_known_with_its_key",
            ),
            models.CheckConstraint(
                condition=models.Q(taken_down_at__isnull=True, takedown_reason="")
                | (models.Q(taken_down_at__isnull=False) & ~models.Q(takedown_reason="")),
                name="repository_taken_down_with_a_reason",
            ),
            models.UniqueConstraint(fields=["account", "name"], name="repository_name_unique_in_account"),
            models.CheckConstraint(
                condition=models.Q(name__regex=REPOSITORY_NAME_PATTERN), name="repository_name_grammar"
            ),
            models.CheckConstraint(
                condition=models.Q(visibility__in=Visibility.values), name="repository_visibility_known"
            ),
            models.CheckConstraint(
                condition=models.Q(image_tag_mutability__in=TagMutability.values),
                name="repository_tag_mutability_known",
            ),
        ]
        indexes = [models.Index(fields=["visibility", "account"])]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.name}"

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC

    @property
    def is_taken_down(self) -> bool:
        return self.taken_down_at is not None


RESOURCE_TAG_KEY_MAX_LENGTH = 128
RESOURCE_TAG_VALUE_MAX_LENGTH = 256
RESOURCE_TAGS_PER_REPOSITORY = 200
# What AWS allows in tag keys and values: letters, digits, spaces and _ . : / = + - @
RESOURCE_TAG_PATTERN = r"^[\w\s.:/=+\-@]*$"


class RepositoryTag(models.Model):
    """A resource tag (key and value metadata, as on an ECR repository), not an image tag."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="resource_tags")
    key = models.CharField(max_length=RESOURCE_TAG_KEY_MAX_LENGTH)
    value = models.CharField(max_length=RESOURCE_TAG_VALUE_MAX_LENGTH, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["repository", "key"], name="resource_tag_key_once_per_repository"),
            models.CheckConstraint(condition=~models.Q(key=""), name="resource_tag_key_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


# Amazon ECR Public's limits on a repository's catalog data.
CATALOG_DESCRIPTION_MAX_LENGTH = 1024
CATALOG_TEXT_MAX_LENGTH = 25_600
CATALOG_BADGES_MAX = 50
CATALOG_BADGE_MAX_LENGTH = 50
# The values the gallery shows as badges and filters by; others are kept and returned
# by the API, as ECR Public does, but are not badges.
RECOGNISED_ARCHITECTURES = ("ARM", "ARM 64", "x86", "x86-64")
RECOGNISED_OPERATING_SYSTEMS = ("Linux", "Windows")
# A logo's limits are the kernel's (apps.kernel.images), shared with a publisher's logo.


class LogoContentType(models.TextChoices):
    PNG = images.PNG, "PNG"
    JPEG = images.JPEG, "JPEG"


def _at_most(field: str, limit: int) -> LessThanOrEqual:
    return LessThanOrEqual(Length(field), limit)


def _side_in_range(field: str) -> models.Q:
    return models.Q(**{f"{field}__gte": LOGO_MIN_SIDE, f"{field}__lte": LOGO_MAX_SIDE})


class RepositoryCatalogData(models.Model):
    """What the gallery shows about a public repository (Amazon ECR Public's catalog
    data). The Markdown texts are kept as given and, beside them, as the sanitized
    HTML they render to; the logo is kept in the database with what Pillow found it to be."""

    repository = models.OneToOneField(
        Repository, on_delete=models.CASCADE, primary_key=True, related_name="catalog_data"
    )
    description = models.CharField(max_length=CATALOG_DESCRIPTION_MAX_LENGTH, blank=True, default="")
    about_markdown = models.TextField(blank=True, default="")
    usage_markdown = models.TextField(blank=True, default="")
    about_html = models.TextField(blank=True, default="", editable=False)
    usage_html = models.TextField(blank=True, default="", editable=False)
    architectures = models.JSONField(default=list, blank=True)
    operating_systems = models.JSONField(default=list, blank=True)
    logo = models.BinaryField(null=True, blank=True, editable=False)
    logo_content_type = models.CharField(max_length=10, choices=LogoContentType.choices, blank=True, default="")
    logo_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    logo_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # `sha256:<hex>` of the logo bytes: its ETag.
    logo_digest = models.CharField(max_length=71, blank=True, default="", editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "catalog data"
        verbose_name_plural = "catalog data"
        constraints = [
            models.CheckConstraint(
                condition=_at_most("description", CATALOG_DESCRIPTION_MAX_LENGTH), name="catalog_description_length"
            ),
            models.CheckConstraint(
                condition=_at_most("about_markdown", CATALOG_TEXT_MAX_LENGTH), name="catalog_about_length"
            ),
            models.CheckConstraint(
                condition=_at_most("usage_markdown", CATALOG_TEXT_MAX_LENGTH), name="catalog_usage_length"
            ),
            # A logo comes whole (bytes, type, size, digest) or not at all.
            models.CheckConstraint(
                condition=(
                    models.Q(
                        logo__isnull=True,
                        logo_content_type="",
                        logo_width__isnull=True,
                        logo_height__isnull=True,
                        logo_digest="",
                    )
                    | (
                        models.Q(logo__isnull=False, logo_content_type__in=LogoContentType.values)
                        & _side_in_range("logo_width")
                        & _side_in_range("logo_height")
                        & models.Q(logo_digest__startswith="sha256:")
                        & models.Q(_at_most("logo", LOGO_MAX_BYTES))
                    )
                ),
                name="catalog_logo_whole_and_within_limits",
            ),
        ]

    def __str__(self) -> str:
        return f"catalog data of {self.repository}"

    @property
    def has_logo(self) -> bool:
        return bool(self.logo_digest)


# Amazon ECR's repository creation templates. A prefix is a repository namespace
# (`prod`, `prod/team`: ECR's assumed trailing `/` is not stored) or ROOT, every repository.
ROOT_PREFIX = "ROOT"
_NAMESPACE = REPOSITORY_NAME_PATTERN.removeprefix("^").removesuffix("$")
TEMPLATE_PREFIX_PATTERN = rf"^(ROOT|{_NAMESPACE})$"
TEMPLATE_PREFIX_MAX_LENGTH = 256
TEMPLATE_DESCRIPTION_MAX_LENGTH = 256


class AppliedFor(models.TextChoices):
    """Which of the repositories Berth creates on its own a template applies to."""

    REPLICATION = "REPLICATION", "Replication"
    PULL_THROUGH_CACHE = "PULL_THROUGH_CACHE", "Pull-through cache"


class EncryptionType(models.TextChoices):
    """ECR's encryptionType of a template: the repositories it creates are encrypted
    with it (KMS with ``kms_key``)."""

    AES256 = "AES256", "AES256"
    KMS = "KMS", "KMS"


class RepositoryCreationTemplate(models.Model):
    """The settings of the repositories replication or the pull-through cache create
    whose names fall under ``prefix`` (the longest matching prefix wins, ROOT last).
    The policy texts are kept as given and validated when saved
    (apps.repositories.creation_templates)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="repository_creation_templates")
    prefix = models.CharField(max_length=TEMPLATE_PREFIX_MAX_LENGTH)
    description = models.CharField(max_length=TEMPLATE_DESCRIPTION_MAX_LENGTH, blank=True, default="")
    image_tag_mutability = models.CharField(max_length=24, choices=TagMutability.choices, default=TagMutability.MUTABLE)
    image_tag_mutability_exclusion_filters = models.JSONField(default=list, blank=True)
    # {key: value}, as a repository's resource tags.
    resource_tags = models.JSONField(default=dict, blank=True)
    repository_policy = models.TextField(blank=True, default="")
    lifecycle_policy = models.TextField(blank=True, default="")
    applied_for = models.JSONField(default=list)
    encryption_type = models.CharField(max_length=16, choices=EncryptionType.choices, default=EncryptionType.AES256)
    kms_key = models.CharField(max_length=KMS_KEY_MAX_LENGTH, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "prefix"], name="creation_template_prefix_unique_in_account"),
            models.CheckConstraint(
                condition=models.Q(prefix__regex=TEMPLATE_PREFIX_PATTERN), name="creation_template_prefix_grammar"
            ),
            models.CheckConstraint(
                condition=models.Q(image_tag_mutability__in=TagMutability.values),
                name="creation_template_tag_mutability_known",
            ),
            models.CheckConstraint(
                condition=models.Q(encryption_type__in=EncryptionType.values),
                name="creation_template_encryption_type_known",
            ),
            models.CheckConstraint(
                condition=models.Q(encryption_type="AES256", kms_key="")
                | (models.Q(encryption_type="KMS") & ~models.Q(kms_key="")),
                name="creation_template_kms_with_its_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.prefix}"

    def matches(self, name: str) -> bool:
        return self.prefix == ROOT_PREFIX or name.startswith(f"{self.prefix}/")

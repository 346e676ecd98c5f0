from django.core.validators import RegexValidator
from django.db import models

from apps.accounts.models import Account

# The OCI distribution spec's name grammar, for the part after the namespace.
REPOSITORY_NAME_PATTERN = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$"
REPOSITORY_NAME_MAX_LENGTH = 256


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


class Repository(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="repositories")
    name = models.CharField(max_length=REPOSITORY_NAME_MAX_LENGTH, validators=[RegexValidator(REPOSITORY_NAME_PATTERN)])
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE)
    image_tag_mutability = models.CharField(max_length=24, choices=TagMutability.choices, default=TagMutability.MUTABLE)
    # Wildcard patterns (`latest`, `dev-*`), only with the *_WITH_EXCLUSION settings.
    image_tag_mutability_exclusion_filters = models.JSONField(default=list, blank=True)
    # Stored for now; scanning images on push arrives with the scanner.
    scan_on_push = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "repositories"
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="repository_name_unique_in_account"),
            models.CheckConstraint(condition=models.Q(name__regex=REPOSITORY_NAME_PATTERN), name="repository_name_grammar"),
            models.CheckConstraint(condition=models.Q(visibility__in=Visibility.values), name="repository_visibility_known"),
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

from django.core.validators import RegexValidator
from django.db import models

from apps.accounts.models import Account

# The OCI distribution spec's name grammar, for the part after the namespace.
REPOSITORY_NAME_PATTERN = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$"
REPOSITORY_NAME_MAX_LENGTH = 256


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    PUBLIC = "public", "Public"


class Repository(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="repositories")
    name = models.CharField(max_length=REPOSITORY_NAME_MAX_LENGTH, validators=[RegexValidator(REPOSITORY_NAME_PATTERN)])
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "repositories"
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="repository_name_unique_in_account"),
            models.CheckConstraint(condition=models.Q(name__regex=REPOSITORY_NAME_PATTERN), name="repository_name_grammar"),
            models.CheckConstraint(condition=models.Q(visibility__in=Visibility.values), name="repository_visibility_known"),
        ]
        indexes = [models.Index(fields=["visibility", "account"])]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.name}"

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC

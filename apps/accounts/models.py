from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Length

ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
# Aliases are never all digits, so `<alias>/<name>` and `<account-id>/<name>` never collide.
ALIAS_PATTERN = r"^[a-z0-9]+([._-][a-z0-9]+)*$"
ALL_DIGITS_PATTERN = r"^[0-9]+$"
REGISTRY_DISPLAY_NAME_MAX_LENGTH = 100


class Account(models.Model):
    id = models.CharField(primary_key=True, max_length=12, validators=[RegexValidator(ACCOUNT_ID_PATTERN)])
    name = models.CharField(max_length=128)
    # A push to a missing private repository creates it (members only).
    create_on_push = models.BooleanField(default=True)
    # Amazon ECR Public's registry catalog data: the publisher name the gallery shows.
    display_name = models.CharField(max_length=REGISTRY_DISPLAY_NAME_MAX_LENGTH, blank=True, default="")
    # Set by staff in the admin only, once they have checked who the publisher is.
    verified = models.BooleanField(default=False, help_text="a verified publisher; only staff set this")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id__regex=ACCOUNT_ID_PATTERN), name="account_id_12_digits"),
            models.CheckConstraint(
                condition=models.Q(display_name__length__lte=REGISTRY_DISPLAY_NAME_MAX_LENGTH),
                name="account_display_name_length",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    @property
    def default_alias(self) -> str:
        return self.aliases.get(is_default=True).name


class Alias(models.Model):
    """A public namespace of an account: `<host>/<alias>/<name>`."""

    name = models.CharField(
        max_length=50, unique=True, validators=[RegexValidator(ALIAS_PATTERN), RegexValidator(ALL_DIGITS_PATTERN, inverse_match=True)]
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="aliases")
    is_default = models.BooleanField(default=False)
    # The alias shown in repository and image URIs; the default one until another is made primary.
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "aliases"
        constraints = [
            models.CheckConstraint(condition=models.Q(name__regex=ALIAS_PATTERN), name="alias_grammar"),
            models.CheckConstraint(condition=~models.Q(name__regex=ALL_DIGITS_PATTERN), name="alias_not_all_digits"),
            models.CheckConstraint(condition=models.Q(name__length__gte=2), name="alias_min_length"),
            models.UniqueConstraint(
                fields=["account"], condition=models.Q(is_default=True), name="one_default_alias_per_account"
            ),
            models.UniqueConstraint(
                fields=["account"], condition=models.Q(is_primary=True), name="one_primary_alias_per_account"
            ),
        ]

    def __str__(self) -> str:
        return self.name


models.CharField.register_lookup(Length)


class Membership(models.Model):
    """A user belongs to exactly one account."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} in {self.account_id}"


ACCESS_KEY_ID_PATTERN = r"^BKIA[A-Z0-9]{16}$"
MAX_ACTIVE_ACCESS_KEYS = 2


class AccessKeyStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    INACTIVE = "INACTIVE", "Inactive"


class AccessKey(models.Model):
    """A user's credentials for the management API: an id and a secret, the secret
    kept only as a password hash.

    An active key holds one of the user's two slots; the unique (user, slot) pair is
    what keeps the database itself from ever holding a third active key."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_keys")
    access_key_id = models.CharField(max_length=20, unique=True, validators=[RegexValidator(ACCESS_KEY_ID_PATTERN)])
    secret_hash = models.CharField(max_length=128)
    status = models.CharField(max_length=8, choices=AccessKeyStatus.choices, default=AccessKeyStatus.ACTIVE)
    active_slot = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(access_key_id__regex=ACCESS_KEY_ID_PATTERN), name="access_key_id_grammar"
            ),
            models.CheckConstraint(
                condition=(
                    # isnull=False: a NULL slot would make the comparison unknown, which a CHECK lets pass.
                    models.Q(
                        status=AccessKeyStatus.ACTIVE,
                        active_slot__isnull=False,
                        active_slot__gte=1,
                        active_slot__lte=MAX_ACTIVE_ACCESS_KEYS,
                    )
                    | models.Q(status=AccessKeyStatus.INACTIVE, active_slot__isnull=True)
                ),
                name="access_key_active_holds_a_slot",
            ),
            models.UniqueConstraint(fields=["user", "active_slot"], name="access_key_slot_once_per_user"),
        ]

    def __str__(self) -> str:
        return self.access_key_id

    @property
    def is_active(self) -> bool:
        return self.status == AccessKeyStatus.ACTIVE

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F
from django.db.models.functions import Length, Lower

from apps.kernel import images

ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
# Aliases are never all digits, so `<alias>/<name>` and `<account-id>/<name>` never collide.
ALIAS_PATTERN = r"^[a-z0-9]+([._-][a-z0-9]+)*$"
ALL_DIGITS_PATTERN = r"^[0-9]+$"
# What an account owner may ask for (Amazon ECR Public's alias rule): a letter first, then
# lowercase letters and digits with single `.`, `_` or `-` separators, none trailing.
CUSTOM_ALIAS_PATTERN = r"^[a-z][a-z0-9]+([._-][a-z0-9]+)*$"
CUSTOM_ALIAS_MIN_LENGTH = 2
CUSTOM_ALIAS_MAX_LENGTH = 50
REGISTRY_DISPLAY_NAME_MAX_LENGTH = 100
# A publisher's bio: plain text (no Markdown), shown on its gallery page.
PUBLISHER_BIO_MAX_LENGTH = 500
PUBLISHER_LOGO_CONTENT_TYPES = (images.PNG, images.JPEG)


class Account(models.Model):
    id = models.CharField(primary_key=True, max_length=12, validators=[RegexValidator(ACCOUNT_ID_PATTERN)])
    name = models.CharField(max_length=128)
    # A push to a missing private repository creates it (members only).
    create_on_push = models.BooleanField(default=True)
    # Amazon ECR Public's registry catalog data: the publisher name the gallery shows.
    display_name = models.CharField(max_length=REGISTRY_DISPLAY_NAME_MAX_LENGTH, blank=True, default="")
    # Set by staff in the admin only, once they have checked who the publisher is.
    verified = models.BooleanField(default=False, help_text="a verified publisher; only staff set this")
    # Set by staff: the account's credentials stop working and its public repositories
    # leave the gallery until it is reinstated. Nothing of it is deleted.
    suspended_at = models.DateTimeField(null=True, blank=True, editable=False)
    suspension_reason = models.TextField(blank=True, default="", editable=False)
    # When the email of the account's root user was shown to reach it (the link mailed at
    # sign-up); an alias may be asked for only then. Accounts made by `berth create_account`
    # and those made before verification existed count as verified from their creation.
    email_verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The publisher's profile on its gallery page, which it sets on its settings page.
    bio = models.CharField(max_length=PUBLISHER_BIO_MAX_LENGTH, blank=True, default="")
    # `sha256:<hex>` of the publisher's logo (PublisherLogo, kept apart so that loading an
    # account never loads its bytes), or empty: whether there is one, and its ETag.
    logo_digest = models.CharField(max_length=71, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id__regex=ACCOUNT_ID_PATTERN), name="account_id_12_digits"),
            models.CheckConstraint(
                condition=models.Q(bio__length__lte=PUBLISHER_BIO_MAX_LENGTH), name="account_bio_length"
            ),
            models.CheckConstraint(
                condition=models.Q(display_name__length__lte=REGISTRY_DISPLAY_NAME_MAX_LENGTH),
                name="account_display_name_length",
            ),
            models.CheckConstraint(
                condition=models.Q(suspended_at__isnull=False) | models.Q(suspension_reason=""),
                name="account_suspension_reason_only_when_suspended",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    @property
    def default_alias(self) -> str:
        return self.aliases.get(is_default=True).name

    @property
    def primary_alias(self) -> str:
        """The alias of the account's public repository and image URIs."""
        return self.aliases.get(is_primary=True).name

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def has_logo(self) -> bool:
        return bool(self.logo_digest)


class PublisherLogo(models.Model):
    """A publisher's logo on its gallery page: the bytes as uploaded, with what Pillow
    found them to be (apps.kernel.images.inspect_logo)."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True, related_name="logo")
    data = models.BinaryField()
    content_type = models.CharField(max_length=10)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    digest = models.CharField(max_length=71)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    content_type__in=PUBLISHER_LOGO_CONTENT_TYPES,
                    width__gte=images.LOGO_MIN_SIDE,
                    width__lte=images.LOGO_MAX_SIDE,
                    height__gte=images.LOGO_MIN_SIDE,
                    height__lte=images.LOGO_MAX_SIDE,
                    digest__startswith="sha256:",
                ),
                name="publisher_logo_within_limits",
            ),
        ]

    def __str__(self) -> str:
        return f"logo of {self.account_id}"


def in_good_standing(user_path: str = "") -> models.Q:
    """Users (reached through ``user_path``, e.g. ``"user__"``) whose account is not
    suspended; a user outside any account (a staff operator) is in good standing."""
    return models.Q(**{f"{user_path}membership__isnull": True}) | models.Q(
        **{f"{user_path}membership__account__suspended_at__isnull": True}
    )


class Alias(models.Model):
    """A public namespace of an account: `<host>/<alias>/<name>`."""

    name = models.CharField(
        max_length=50,
        unique=True,
        validators=[RegexValidator(ALIAS_PATTERN), RegexValidator(ALL_DIGITS_PATTERN, inverse_match=True)],
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
# `user_name__lower`: IAM names are matched ignoring case, as the unique constraint compares them.
models.CharField.register_lookup(Lower)


class ReservedName(models.Model):
    """A name no one may ask for as an alias, kept by staff beside the built-in list
    (apps.accounts.services.BUILT_IN_RESERVED_NAMES): a marketplace seller's name, a
    trademark. Granted to an account, only that account may ask for it."""

    name = models.CharField(max_length=CUSTOM_ALIAS_MAX_LENGTH, unique=True, validators=[RegexValidator(ALIAS_PATTERN)])
    reason = models.CharField(max_length=255)
    granted_to_account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="granted_reserved_names"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(name__regex=ALIAS_PATTERN), name="reserved_name_grammar"),
        ]

    def __str__(self) -> str:
        return self.name


class AliasRequestStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"


class AliasRequest(models.Model):
    """An account owner's request for a custom alias, which staff approve or reject.

    The database keeps a name pending for one account at a time and an account to one
    pending request; a decided request records who decided, when and why."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="alias_requests")
    name = models.CharField(max_length=CUSTOM_ALIAS_MAX_LENGTH)
    status = models.CharField(max_length=8, choices=AliasRequestStatus.choices, default=AliasRequestStatus.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_reason = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(name__regex=CUSTOM_ALIAS_PATTERN), name="alias_request_grammar"),
            models.CheckConstraint(
                condition=models.Q(name__length__lte=CUSTOM_ALIAS_MAX_LENGTH), name="alias_request_max_length"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=AliasRequestStatus.values), name="alias_request_status_known"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(status=AliasRequestStatus.PENDING, decided_at__isnull=True)
                    | (~models.Q(status=AliasRequestStatus.PENDING) & models.Q(decided_at__isnull=False))
                ),
                name="alias_request_decided_when_not_pending",
            ),
            # A rejection always says why; the requester reads it.
            models.CheckConstraint(
                condition=~models.Q(status=AliasRequestStatus.REJECTED) | ~models.Q(decision_reason=""),
                name="alias_request_rejection_has_reason",
            ),
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(status=AliasRequestStatus.PENDING),
                name="one_pending_alias_request_per_account",
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(status=AliasRequestStatus.PENDING),
                name="alias_request_name_pending_once",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.name} for {self.account_id} ({self.get_status_display().lower()})"

    @property
    def is_pending(self) -> bool:
        return self.status == AliasRequestStatus.PENDING


class AliasRequestEventKind(models.TextChoices):
    REQUESTED = "REQUESTED", "Requested"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"


class AliasRequestEvent(models.Model):
    """One step in an alias request's history: who did what, when and why. The name
    of who did it is kept as text too, so the history outlives a deleted user."""

    request = models.ForeignKey(AliasRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=9, choices=AliasRequestEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=AliasRequestEventKind.values), name="alias_request_event_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.actor_name}"


# What separates the account from the user name in an IAM user's sign-in name. A root
# user's name never holds it, so the two kinds of sign-in name never collide.
SIGN_IN_NAME_SEPARATOR = "/"


def iam_user_username(account_id: str, user_name: str) -> str:
    """The Django username an IAM user is stored under: its sign-in name with the
    account id. It keeps Django's usernames unique while IAM names are unique only
    within their account; people are shown ``Membership.user_name``."""
    return f"{account_id}{SIGN_IN_NAME_SEPARATOR}{user_name}"


class Membership(models.Model):
    """A user belongs to exactly one account, under a name unique within it (ignoring
    case, as AWS's IAM names are): an IAM user's name, or the root user's own user name."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    user_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(F("account"), Lower("user_name"), name="membership_user_name_unique_in_account"),
            models.CheckConstraint(condition=~models.Q(user_name=""), name="membership_user_name_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.user_name} in {self.account_id}"


ACCESS_KEY_ID_PATTERN = r"^BKIA[A-Z0-9]{16}$"
MAX_ACTIVE_ACCESS_KEYS = 2


class RootUser(models.Model):
    """The account's root user: every right on its own account, no policy consulted.
    The first user of an account is its root."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="root_user")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="iam_root")

    class Meta:
        db_table = "iam_rootuser"  # made by the iam app, whose model it was

    def __str__(self) -> str:
        return f"root of {self.account_id}: {self.user}"


class AccessKeyStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    INACTIVE = "INACTIVE", "Inactive"


class AccessKey(models.Model):
    """A user's credentials for the management API and the AWS wire API: an id and
    a secret. The secret is kept as a password hash (checked when it is sent, as
    HTTP Basic) and sealed (apps.kernel.sealing), because an AWS Signature Version 4
    is verified by computing it again with the secret. Keys made before Berth
    verified signatures have no sealed secret and sign nothing.

    An active key holds one of the user's two slots; the unique (user, slot) pair is
    what keeps the database itself from ever holding a third active key."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_keys")
    access_key_id = models.CharField(max_length=20, unique=True, validators=[RegexValidator(ACCESS_KEY_ID_PATTERN)])
    secret_hash = models.CharField(max_length=128)
    secret_sealed = models.TextField(blank=True, default="", editable=False)
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


class AccountQuota(models.Model):
    """Staff's limits of one account (docs/quotas.md), as Amazon ECR's service quotas:
    each null takes the deployment's default (settings BERTH_QUOTA_*), 0 is unlimited.
    An account without a row has the defaults."""

    account = models.OneToOneField(Account, primary_key=True, on_delete=models.CASCADE, related_name="quota")
    storage_bytes = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="bytes the account may store: each blob its repositories link counted once, and their "
        "manifests; empty: the deployment's default; 0: unlimited",
    )
    repositories = models.PositiveIntegerField(
        null=True, blank=True, help_text="repositories the account may hold; empty: the default; 0: unlimited"
    )
    images_per_repository = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="manifests one repository may hold (an index and each of its entries count); empty: the "
        "default; 0: unlimited",
    )
    updated_at = models.DateTimeField(auto_now=True)
    # The storage quota's running figure (apps.registry.quotas.check_blob): the
    # account's stored bytes when last counted exactly (counted_at), plus each blob
    # admitted since; deletions are not taken off, so it only errs high, and a check
    # it would refuse counts again before refusing.
    stored_bytes_counted = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    counted_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"quotas of {self.account_id}"

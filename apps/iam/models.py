"""IAM's tables: who is an account's root, the managed policies and what they are
attached to, roles and their sessions (temporary credentials), and repository
policies.

Policy documents are stored as the text the owner wrote (validated on save by
apps.iam.services) and parsed when read (apps.iam.selectors caches the parse)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Length

from apps.accounts.models import Account
from apps.repositories.models import Repository

from . import policy

models.TextField.register_lookup(Length)

# IAM's grammars: a name of a user, role or policy; a session name; a path (`/` or `/a/b/`).
IAM_NAME_PATTERN = r"^[\w+=,.@-]{1,64}$"
POLICY_NAME_PATTERN = r"^[\w+=,.@-]{1,128}$"
SESSION_NAME_PATTERN = r"^[\w+=,.@-]{2,64}$"
IAM_PATH_PATTERN = r"^/([\w+=,.@-]+/)*$"
TEMPORARY_ACCESS_KEY_ID_PATTERN = r"^BSIA[A-Z0-9]{16}$"
MIN_SESSION_SECONDS = 900
DEFAULT_SESSION_SECONDS = 3600
MAX_SESSION_SECONDS = 43200
# AWS's limit for a role session assuming another role ("role chaining").
MAX_CHAINED_SESSION_SECONDS = 3600


class ManagedPolicy(models.Model):
    """An identity policy that can be attached to users and roles. ``account`` null:
    built into Berth (the same for every account, never changed by one)."""

    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="policies")
    name = models.CharField(max_length=128, validators=[RegexValidator(POLICY_NAME_PATTERN)])
    path = models.CharField(max_length=512, default="/", validators=[RegexValidator(IAM_PATH_PATTERN)])
    description = models.CharField(max_length=1000, blank=True, default="")
    document = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "managed policies"
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="managed_policy_name_unique_in_account"),
            # (account, name) lets NULL accounts repeat a name; built-ins are unique on their own.
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(account__isnull=True), name="builtin_policy_name_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(name__regex=POLICY_NAME_PATTERN), name="managed_policy_name_grammar"
            ),
            models.CheckConstraint(
                condition=models.Q(path__regex=IAM_PATH_PATTERN), name="managed_policy_path_grammar"
            ),
            models.CheckConstraint(
                condition=models.Q(document__length__lte=policy.MAX_POLICY_CHARACTERS),
                name="managed_policy_document_length",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_builtin(self) -> bool:
        return self.account_id is None

    @property
    def arn(self) -> str:
        account = "berth" if self.is_builtin else self.account_id
        return f"arn:{settings.BERTH_ARN_PARTITION}:iam::{account}:policy{self.path}{self.name}"


class Role(models.Model):
    """An identity others assume (AssumeRole) for temporary credentials; the trust
    policy says who may."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="roles")
    name = models.CharField(max_length=64, validators=[RegexValidator(IAM_NAME_PATTERN)])
    path = models.CharField(max_length=512, default="/", validators=[RegexValidator(IAM_PATH_PATTERN)])
    description = models.CharField(max_length=1000, blank=True, default="")
    trust_policy = models.TextField()
    max_session_duration = models.PositiveIntegerField(
        default=DEFAULT_SESSION_SECONDS,
        validators=[MinValueValidator(DEFAULT_SESSION_SECONDS), MaxValueValidator(MAX_SESSION_SECONDS)],
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="role_name_unique_in_account"),
            models.CheckConstraint(condition=models.Q(name__regex=IAM_NAME_PATTERN), name="role_name_grammar"),
            models.CheckConstraint(condition=models.Q(path__regex=IAM_PATH_PATTERN), name="role_path_grammar"),
            models.CheckConstraint(
                condition=models.Q(
                    max_session_duration__gte=DEFAULT_SESSION_SECONDS, max_session_duration__lte=MAX_SESSION_SECONDS
                ),
                name="role_max_session_duration_range",
            ),
            models.CheckConstraint(
                condition=models.Q(trust_policy__length__lte=policy.MAX_POLICY_CHARACTERS),
                name="role_trust_policy_length",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.name}"

    @property
    def arn(self) -> str:
        return policy.role_arn(self.account_id, self.name, path=self.path, partition=settings.BERTH_ARN_PARTITION)


class PolicyAttachment(models.Model):
    """A managed policy attached to exactly one user or one role."""

    policy = models.ForeignKey(ManagedPolicy, on_delete=models.PROTECT, related_name="attachments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="policy_attachments"
    )
    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.CASCADE, related_name="policy_attachments")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, role__isnull=True) | models.Q(user__isnull=True, role__isnull=False)
                ),
                name="policy_attachment_user_xor_role",
            ),
            models.UniqueConstraint(
                fields=["policy", "user"], condition=models.Q(user__isnull=False), name="policy_attached_to_user_once"
            ),
            models.UniqueConstraint(
                fields=["policy", "role"], condition=models.Q(role__isnull=False), name="policy_attached_to_role_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy} on {self.user.membership.user_name if self.user_id else self.role}"


class RoleSession(models.Model):
    """Temporary credentials from AssumeRole: an access key id, a secret kept as a
    password hash and sealed (to verify AWS signatures, as apps.accounts' AccessKey),
    and a signed session token (apps.iam.session_tokens) that
    names this row. Deleting the row (or the role) ends the session."""

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="sessions")
    session_name = models.CharField(max_length=64, validators=[RegexValidator(SESSION_NAME_PATTERN)])
    access_key_id = models.CharField(
        max_length=20, unique=True, validators=[RegexValidator(TEMPORARY_ACCESS_KEY_ID_PATTERN)]
    )
    secret_hash = models.CharField(max_length=128)
    secret_sealed = models.TextField(blank=True, default="", editable=False)
    expires_at = models.DateTimeField(db_index=True)
    source_arn = models.CharField(max_length=2048, help_text="the principal that assumed the role")
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(session_name__regex=SESSION_NAME_PATTERN), name="role_session_name_grammar"
            ),
            models.CheckConstraint(
                condition=models.Q(access_key_id__regex=TEMPORARY_ACCESS_KEY_ID_PATTERN),
                name="role_session_access_key_id_grammar",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role.name}/{self.session_name}"

    @property
    def arn(self) -> str:
        return policy.assumed_role_arn(
            self.role.account_id, self.role.name, self.session_name, partition=settings.BERTH_ARN_PARTITION
        )

    @property
    def assumed_role_id(self) -> str:
        """STS's AssumedRoleId (and the session's GetCallerIdentity UserId): `<role id>:<session name>`."""
        return f"{self.role_id}:{self.session_name}"


class RepositoryPolicy(models.Model):
    """Amazon ECR's repository policy: the resource policy of one repository."""

    repository = models.OneToOneField(Repository, on_delete=models.CASCADE, related_name="repository_policy")
    document = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "repository policies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(document__length__lte=policy.MAX_POLICY_CHARACTERS),
                name="repository_policy_document_length",
            ),
        ]

    def __str__(self) -> str:
        return f"policy of {self.repository}"


class RegistryPolicy(models.Model):
    """Amazon ECR's registry policy: one per account, granting other accounts what
    they do to this registry as accounts (replicate into it, create the repository a
    replication needs). Its principals may be accounts of other deployments, so they
    are not looked up (apps.iam.registry_policies decides with it)."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True, related_name="registry_policy")
    document = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "registry policies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(document__length__lte=policy.MAX_POLICY_CHARACTERS),
                name="registry_policy_document_length",
            ),
        ]

    def __str__(self) -> str:
        return f"registry policy of {self.account_id}"

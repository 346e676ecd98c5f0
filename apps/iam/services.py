"""Every write to IAM: users of an account, their access keys, managed policies
and their attachments, roles and trust policies, repository policies, and
AssumeRole's temporary credentials.

Every policy is validated when it is saved (apps.iam.policy.parse_policy): JSON,
elements, actions, ARNs, and that each principal it names exists. A refusal is a
PolicyInvalid whose message points at the statement at fault."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import login_passwords
from apps.accounts.models import Account, Membership, iam_user_username
from apps.audit import services as audit_services
from apps.audit.events import Actor
from apps.kernel import sealing
from apps.kernel.requests import RequestContext
from apps.repositories.models import Repository

from . import policy, selectors, session_tokens
from .callers import Caller
from .models import (
    DEFAULT_SESSION_SECONDS,
    IAM_NAME_PATTERN,
    IAM_PATH_PATTERN,
    MAX_CHAINED_SESSION_SECONDS,
    MAX_SESSION_SECONDS,
    MIN_SESSION_SECONDS,
    POLICY_NAME_PATTERN,
    SESSION_NAME_PATTERN,
    ManagedPolicy,
    PolicyAttachment,
    RegistryPolicy,
    RepositoryPolicy,
    Role,
    RoleSession,
)
from .policy.conditions import conditions_hold
from .registry_policies import RegistryPolicyInvalid, RegistryPolicyNotFound

# IAM's user name grammar (ASCII, as AWS's: names are compared ignoring case, and the
# same way on every database), narrowed to what Django's username validator also accepts.
USER_NAME_PATTERN = r"^[A-Za-z0-9_.@+-]{1,64}$"


class PolicyInvalid(ValueError):
    """A policy refused on save; the message names the statement at fault."""


class NameInvalid(ValueError):
    def __init__(self, message: str, *, what: str) -> None:
        super().__init__(message)
        self.what = what  # "user name", "path", ...


class NameTaken(ValueError):
    pass


class PolicyInUse(ValueError):
    pass


class AttachmentRefused(ValueError):
    pass


class UserNotDeletable(ValueError):
    pass


class SessionDurationInvalid(ValueError):
    pass


class AssumeRoleRefused(PermissionError):
    """The trust policy (or, across accounts, the caller's own policies) does not allow."""


def _check_name(value: str, pattern: str, what: str) -> None:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise NameInvalid(f"{what} {value!r} does not match {pattern}", what=what)


def _validated(text: str, *, kind: policy.PolicyKind, name: str, account_id: str) -> str:
    """``text`` once it parses as a valid policy of ``account_id``'s."""
    principal_exists = (
        partial(selectors.principal_exists, policy_account_id=account_id)
        if kind is policy.PolicyKind.RESOURCE
        else None
    )
    try:
        policy.parse_policy(
            text, kind=kind, name=name, partition=settings.BERTH_ARN_PARTITION, principal_exists=principal_exists
        )
    except policy.PolicyError as error:
        raise PolicyInvalid(str(error)) from None
    return text


def _record(
    event_name: str,
    account_id: str,
    *,
    actor: Actor,
    context: RequestContext | None,
    parameters: dict,
    event_source: str = "iam",
    repository: str = "",
    response_elements: dict | None = None,
) -> None:
    """Record the change in the audit trail, last in the caller's open transaction."""
    audit_services.record_change(
        actor=actor,
        context=context,
        event_name=event_name,
        event_source=event_source,
        recipient_account_id=account_id,
        repository=repository,
        request_parameters=parameters,
        response_elements=response_elements,
    )


# -- root users and IAM users ------------------------------------------------------


def create_user(
    *,
    account: Account,
    username: str,
    password: str = "",
    email: str = "",
    actor: Actor,
    context: RequestContext | None = None,
):
    """A new IAM user of the account named ``username``, unique within the account
    ignoring case (another account may have a user of the same name): a Django user
    and its membership. It has no rights until a policy is attached. Without a
    password it signs in only with access keys; with one, as ``<account>/<username>``."""
    _check_name(username, USER_NAME_PATTERN, "user name")
    taken = NameTaken(f"account {account.pk} already has a user named {username!r}")
    if Membership.objects.filter(account=account, user_name__lower=username.lower()).exists():
        raise taken
    User = get_user_model()
    if password:
        validate_password(password, User(username=username, email=email))
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=iam_user_username(account.pk, username), email=email, password=password or None
            )
            Membership.objects.create(user=user, account=account, user_name=username)
            _record(
                "CreateUser",
                account.pk,
                actor=actor,
                context=context,
                parameters={"userName": username, "loginProfile": bool(password)},
            )
    except IntegrityError:
        raise taken from None
    return user


def delete_user(*, user, actor: Actor, context: RequestContext | None = None) -> None:
    """Delete an IAM user with its access keys and attachments; never the root user."""
    if selectors.is_root_user(user):
        raise UserNotDeletable("the account's root user cannot be deleted")
    membership = user.membership
    with transaction.atomic():
        user.delete()
        _record(
            "DeleteUser",
            membership.account_id,
            actor=actor,
            context=context,
            parameters={"userName": membership.user_name},
        )


# -- managed policies ----------------------------------------------------------------


def create_policy(
    *,
    account: Account,
    name: str,
    document: str,
    description: str = "",
    path: str = "/",
    actor: Actor,
    context: RequestContext | None = None,
) -> ManagedPolicy:
    _check_name(name, POLICY_NAME_PATTERN, "policy name")
    _check_name(path, IAM_PATH_PATTERN, "path")
    builtin_names = set(selectors.AWS_POLICY_SYNONYMS) | set(selectors.AWS_POLICY_SYNONYMS.values())
    if name in builtin_names:
        raise NameTaken(f"'{name}' names a policy built into Berth; choose another name")
    _validated(document, kind=policy.PolicyKind.IDENTITY, name=name, account_id=account.pk)
    try:
        with transaction.atomic():
            created = ManagedPolicy.objects.create(
                account=account, name=name, path=path, description=description, document=document
            )
            _record(
                "CreatePolicy",
                account.pk,
                actor=actor,
                context=context,
                parameters={"policyName": name, "path": path, "description": description, "policyDocument": document},
                response_elements={"policy": {"arn": created.arn}},
            )
            return created
    except IntegrityError:
        raise NameTaken(f"the account already has a policy named '{name}'") from None


def delete_policy(*, managed_policy: ManagedPolicy, actor: Actor, context: RequestContext | None = None) -> None:
    if managed_policy.is_builtin:
        raise AttachmentRefused("a policy built into Berth cannot be deleted")
    with transaction.atomic():
        attached = PolicyAttachment.objects.select_for_update().filter(policy=managed_policy).count()
        if attached:
            raise PolicyInUse(
                f"policy '{managed_policy.name}' is still attached to {attached} user(s) or role(s); detach it first"
            )
        arn = managed_policy.arn
        managed_policy.delete()
        _record("DeletePolicy", managed_policy.account_id, actor=actor, context=context, parameters={"policyArn": arn})


def _check_attachable(account: Account, managed_policy: ManagedPolicy) -> None:
    if not managed_policy.is_builtin and managed_policy.account_id != account.pk:
        raise AttachmentRefused("a policy of another account cannot be attached")


def _holder_parameters(user, role: Role | None) -> tuple[str, dict]:
    """The operation's name suffix and the parameter naming the user or the role."""
    if user is not None:
        return "User", {"userName": user.membership.user_name}
    return "Role", {"roleName": role.name}


def attach_policy(
    *,
    account: Account,
    managed_policy: ManagedPolicy,
    user=None,
    role: Role | None = None,
    actor: Actor,
    context: RequestContext | None = None,
) -> PolicyAttachment:
    """Attach to a user or a role of ``account`` (exactly one). Attaching twice is a
    no-op (recorded all the same)."""
    if (user is None) == (role is None):
        raise ValueError("attach a policy to a user or to a role")
    _check_attachable(account, managed_policy)
    kind, holder = _holder_parameters(user, role)
    with transaction.atomic():
        attachment, _ = PolicyAttachment.objects.get_or_create(policy=managed_policy, user=user, role=role)
        _record(
            f"Attach{kind}Policy",
            account.pk,
            actor=actor,
            context=context,
            parameters={**holder, "policyArn": managed_policy.arn},
        )
    return attachment


def detach_policy(
    *,
    managed_policy: ManagedPolicy,
    user=None,
    role: Role | None = None,
    actor: Actor,
    context: RequestContext | None = None,
) -> None:
    if (user is None) == (role is None):
        raise ValueError("detach a policy from a user or from a role")
    kind, holder = _holder_parameters(user, role)
    with transaction.atomic():
        deleted, _ = PolicyAttachment.objects.filter(policy=managed_policy, user=user, role=role).delete()
        if not deleted:
            named = f"user {user.membership.user_name}" if user is not None else f"role {role.name}"
            raise AttachmentRefused(f"policy '{managed_policy.name}' is not attached to {named}")
        _record(
            f"Detach{kind}Policy",
            user.membership.account_id if user is not None else role.account_id,
            actor=actor,
            context=context,
            parameters={**holder, "policyArn": managed_policy.arn},
        )


# -- roles ------------------------------------------------------------------------------


def create_role(
    *,
    account: Account,
    name: str,
    trust_policy: str,
    path: str = "/",
    description: str = "",
    max_session_duration: int = DEFAULT_SESSION_SECONDS,
    actor: Actor,
    context: RequestContext | None = None,
) -> Role:
    _check_name(name, IAM_NAME_PATTERN, "role name")
    _check_name(path, IAM_PATH_PATTERN, "path")
    if not DEFAULT_SESSION_SECONDS <= max_session_duration <= MAX_SESSION_SECONDS:
        raise SessionDurationInvalid(
            f"max_session_duration must be {DEFAULT_SESSION_SECONDS}..{MAX_SESSION_SECONDS} seconds"
        )
    _validated(trust_policy, kind=policy.PolicyKind.RESOURCE, name=selectors.TRUST_POLICY_NAME, account_id=account.pk)
    try:
        with transaction.atomic():
            role = Role.objects.create(
                account=account,
                name=name,
                path=path,
                description=description,
                trust_policy=trust_policy,
                max_session_duration=max_session_duration,
            )
            _record(
                "CreateRole",
                account.pk,
                actor=actor,
                context=context,
                parameters={
                    "roleName": name,
                    "path": path,
                    "description": description,
                    "assumeRolePolicyDocument": trust_policy,
                    "maxSessionDuration": max_session_duration,
                },
                response_elements={"role": {"arn": role.arn}},
            )
            return role
    except IntegrityError:
        raise NameTaken(f"the account already has a role named '{name}'") from None


def update_trust_policy(*, role: Role, document: str, actor: Actor, context: RequestContext | None = None) -> Role:
    role.trust_policy = _validated(
        document, kind=policy.PolicyKind.RESOURCE, name=selectors.TRUST_POLICY_NAME, account_id=role.account_id
    )
    with transaction.atomic():
        role.save(update_fields=["trust_policy"])
        _record(
            "UpdateAssumeRolePolicy",
            role.account_id,
            actor=actor,
            context=context,
            parameters={"roleName": role.name, "policyDocument": document},
        )
    return role


def delete_role(*, role: Role, actor: Actor, context: RequestContext | None = None) -> None:
    """Delete a role; its attachments go with it and its sessions end at once."""
    arn = role.arn
    with transaction.atomic():
        role.delete()
        _record(
            "DeleteRole",
            role.account_id,
            actor=actor,
            context=context,
            parameters={"roleName": role.name, "roleArn": arn},
        )


# -- repository policies -------------------------------------------------------------


def validate_repository_policy(document: str, account_id: str) -> None:
    """Raises PolicyInvalid unless ``document`` is a repository policy ``account_id``
    may set (its principals exist): a repository creation template's too."""
    _validated(document, kind=policy.PolicyKind.RESOURCE, name=selectors.REPOSITORY_POLICY_NAME, account_id=account_id)


def set_repository_policy(
    *, repository: Repository, document: str, actor: Actor, context: RequestContext | None = None
) -> RepositoryPolicy:
    _validated(
        document,
        kind=policy.PolicyKind.RESOURCE,
        name=selectors.REPOSITORY_POLICY_NAME,
        account_id=repository.account_id,
    )
    with transaction.atomic():
        repository_policy, _ = RepositoryPolicy.objects.update_or_create(
            repository=repository, defaults={"document": document}
        )
        _record(
            "SetRepositoryPolicy",
            repository.account_id,
            actor=actor,
            context=context,
            event_source="ecr",
            repository=repository.name,
            parameters={"registryId": repository.account_id, "repositoryName": repository.name, "policyText": document},
        )
    return repository_policy


def delete_repository_policy(*, repository: Repository, actor: Actor, context: RequestContext | None = None) -> bool:
    """Whether there was a policy to delete (only then is the change recorded: the
    API answers 404 otherwise)."""
    with transaction.atomic():
        deleted, _ = RepositoryPolicy.objects.filter(repository=repository).delete()
        if deleted:
            _record(
                "DeleteRepositoryPolicy",
                repository.account_id,
                actor=actor,
                context=context,
                event_source="ecr",
                repository=repository.name,
                parameters={"registryId": repository.account_id, "repositoryName": repository.name},
            )
    return bool(deleted)


# -- registry policies ---------------------------------------------------------------


def put_registry_policy(
    *, account: Account, document: str, actor: Actor, context: RequestContext | None = None
) -> RegistryPolicy:
    """PutRegistryPolicy: replaces the account's registry policy. Validated as an IAM
    policy whose principals are accounts (an id, arn:aws:iam::<id>:root or "*"), with
    a Resource in every statement, granting only ecr:ReplicateImage,
    ecr:CreateRepository and ecr:BatchImportUpstreamImage. The accounts it names are
    not looked up: they may live in another Berth deployment."""
    try:
        _validated(
            document, kind=policy.PolicyKind.REGISTRY, name=selectors.REGISTRY_POLICY_NAME, account_id=account.pk
        )
    except PolicyInvalid as error:
        raise RegistryPolicyInvalid(str(error)) from None
    with transaction.atomic():
        registry_policy, _ = RegistryPolicy.objects.update_or_create(account=account, defaults={"document": document})
        _record(
            "PutRegistryPolicy",
            account.pk,
            actor=actor,
            context=context,
            event_source="ecr",
            parameters={"policyText": document},
            response_elements={"registryId": account.pk},
        )
    return registry_policy


def delete_registry_policy(*, account: Account, actor: Actor, context: RequestContext | None = None) -> RegistryPolicy:
    """DeleteRegistryPolicy: returns the policy as it was; RegistryPolicyNotFound
    when the account has none."""
    with transaction.atomic():
        stored = RegistryPolicy.objects.select_for_update().filter(account=account).first()
        if stored is None:
            raise RegistryPolicyNotFound(account.pk)
        stored.delete()
        _record(
            "DeleteRegistryPolicy",
            account.pk,
            actor=actor,
            context=context,
            event_source="ecr",
            parameters={},
            response_elements={"registryId": account.pk},
        )
    return stored


# -- AssumeRole ----------------------------------------------------------------------

_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class AssumedRole:
    """Temporary credentials just issued: the only moment the secret is known."""

    session: RoleSession
    secret_access_key: str
    session_token: str
    expires_at: datetime
    arn: str


def _trust_policy_names(trust: policy.Policy, context: policy.RequestContext) -> bool:
    """Whether an Allow statement of the trust policy names this caller (directly,
    by its role, by its account or by "*") for this request. A role is assumed only
    when its trust policy says so, whatever the caller's own policies allow."""
    principal = context.principal
    keys = context.condition_keys()
    names = {principal.arn, principal.principal_arn, principal.account_arn} - {None}
    for statement in trust.statements:
        if statement.effect is not policy.Effect.ALLOW or statement.principal is None:
            continue
        named = statement.principal.everyone or bool(names & statement.principal.arns)
        if named == statement.not_principal:
            continue
        if any(policy.action_matches(p, context.action) for p in statement.actions) == statement.not_action:
            continue
        if statement.resources is not None:
            listed = any(policy.arn_matches(p, context.resource) for p in statement.resources)
            if listed == statement.not_resource:
                continue
        if conditions_hold(statement.conditions, keys):
            return True
    return False


# What a role that is not there is evaluated against, so that refusing it takes the same steps.
_TRUSTS_NO_ONE = policy.Policy(
    name=selectors.TRUST_POLICY_NAME, kind=policy.PolicyKind.RESOURCE, version="2012-10-17", statements=(), text=""
)


def _new_temporary_access_key_id() -> str:
    return "BSIA" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(16))


def assume_role(
    *,
    caller: Caller,
    role_arn: str,
    session_name: str,
    duration_seconds: int = DEFAULT_SESSION_SECONDS,
    source_ip: str | None,
    secure_transport: bool | None = None,
    context: RequestContext | None = None,
) -> AssumedRole:
    """STS AssumeRole. The role's trust policy must name the caller; a trust policy
    naming an account delegates to that account's identity policies, and a caller
    of another account needs its own policies to allow sts:AssumeRole as well
    (policy.evaluate decides both). Raises policy.ArnError, NameInvalid,
    SessionDurationInvalid or AssumeRoleRefused.

    A role that is not there is refused as one the caller may not assume, after the
    same evaluation (against a trust policy naming no one); a caller of another
    account is told only that it is refused, so it learns nothing of the roles there.
    ``source_ip`` and ``secure_transport`` (the request came over TLS) are the
    condition keys aws:SourceIp and aws:SecureTransport. The session is recorded in
    the audit trail with the caller as its actor (a refusal writes nothing: the
    request's failure is recorded by apps.audit.middleware)."""
    if caller.is_anonymous:
        raise AssumeRoleRefused("anonymous callers cannot assume roles")
    _check_name(session_name, SESSION_NAME_PATTERN, "role session name")
    role = selectors.role_for_arn(role_arn)
    requested = policy.Arn.parse(role_arn, partition=settings.BERTH_ARN_PARTITION)
    evaluated = policy.RequestContext(
        principal=caller.principal(),
        action="sts:AssumeRole",
        resource=str(requested),
        resource_account=requested.account,
        source_ip=source_ip or None,
        secure_transport=secure_transport,
    )
    trust = selectors.trust_policy(role) if role is not None else _TRUSTS_NO_ONE
    decision = policy.evaluate(evaluated, identity_policies=selectors.identity_policies(caller), resource_policy=trust)
    named = _trust_policy_names(trust, evaluated)
    refusal = f"{caller.arn} is not authorized to perform sts:AssumeRole on {role_arn}"
    across_accounts = requested.account != caller.account_id
    if role is None or (across_accounts and not (decision.allowed and named)):
        raise AssumeRoleRefused(refusal)
    if not decision.allowed:
        raise AssumeRoleRefused(f"{refusal}: {decision.explanation}")
    if not named:
        raise AssumeRoleRefused(f"{refusal}: the role's trust policy does not name this principal")
    longest = MAX_CHAINED_SESSION_SECONDS if caller.is_role_session else role.max_session_duration
    if not MIN_SESSION_SECONDS <= duration_seconds <= longest:
        why = " (a role session assuming a role gets at most an hour)" if caller.is_role_session else ""
        raise SessionDurationInvalid(f"duration_seconds must be {MIN_SESSION_SECONDS}..{longest}{why}")

    secret = secrets.token_urlsafe(30)
    expires_at = timezone.now().replace(microsecond=0) + timedelta(seconds=duration_seconds)
    for _ in range(5):
        try:
            with transaction.atomic():
                session = RoleSession.objects.create(
                    role=role,
                    session_name=session_name,
                    access_key_id=_new_temporary_access_key_id(),
                    secret_hash=make_password(secret),
                    secret_sealed=sealing.seal(secret),
                    expires_at=expires_at,
                    source_arn=caller.arn,
                    source_ip=source_ip or None,
                )
                _record(
                    "AssumeRole",
                    role.account_id,
                    actor=caller.actor(),
                    context=context,
                    event_source="sts",
                    parameters={
                        "roleArn": role_arn,
                        "roleSessionName": session_name,
                        "durationSeconds": duration_seconds,
                    },
                    response_elements={
                        "assumedRoleUser": {"arn": session.arn},
                        "credentials": {"accessKeyId": session.access_key_id},
                    },
                )
            break
        except IntegrityError:
            continue  # an access key id drawn before: draw again
    else:
        raise RuntimeError("could not allocate a unique temporary access key id")
    token = session_tokens.issue(
        session_id=session.pk, access_key_id=session.access_key_id, expires_at=int(expires_at.timestamp())
    )
    return AssumedRole(
        session=session, secret_access_key=secret, session_token=token, expires_at=expires_at, arn=session.arn
    )


def end_role_session(*, session: RoleSession, actor: Actor, context: RequestContext | None = None) -> None:
    """The session's credentials (and the login passwords and tokens made from
    them) stop working at once: staff end a session they distrust."""
    with transaction.atomic():
        session.delete()
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="EndRoleSession",
            event_source="berth",
            recipient_account_id=session.role.account_id,
            request_parameters={
                "roleArn": session.role.arn,
                "roleSessionName": session.session_name,
                "accessKeyId": session.access_key_id,
            },
        )


def create_session_login_password(*, session: RoleSession) -> login_passwords.IssuedLoginPassword:
    """GetAuthorizationToken for a role session: a login password that expires no
    later than the session and stops working when the session is deleted."""
    now = int(timezone.now().timestamp())
    remaining = int(session.expires_at.timestamp()) - now
    return login_passwords.issue(
        user_id="",
        password_hash=session.secret_hash,
        now=now,
        ttl=max(0, min(settings.BERTH_LOGIN_PASSWORD_TTL, remaining)),
        session_id=session.pk,
    )

"""Reads for IAM: who a caller is, which policies apply to them and to a
repository, and the account's users, roles and policies.

Policies are stored as text and parsed here. Parsing is cached in-process by the
document's text (an LRU), so deciding a request costs the one query that fetches
the documents, not a parse."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.models import Account, Membership, RootUser
from apps.repositories.models import Repository

from . import credentials, policy
from .callers import ANONYMOUS, Caller
from .models import ManagedPolicy, PolicyAttachment, RegistryPolicy, RepositoryPolicy, Role, RoleSession

REPOSITORY_POLICY_NAME = "repository policy"
REGISTRY_POLICY_NAME = "registry policy"
TRUST_POLICY_NAME = "trust policy"
# AWS's own managed policies, accepted as names of Berth's built-ins when attaching.
AWS_POLICY_SYNONYMS = {
    "AmazonEC2ContainerRegistryFullAccess": "BerthRegistryFullAccess",
    "AmazonEC2ContainerRegistryPowerUser": "BerthRegistryPowerUser",
    "AmazonEC2ContainerRegistryReadOnly": "BerthRegistryReadOnly",
}
BUILTIN_POLICY_ACCOUNTS = ("berth", "aws")


@lru_cache(maxsize=1024)
def _parsed(text: str, kind: policy.PolicyKind, name: str, partition: str) -> policy.Policy:
    return policy.parse_policy(text, kind=kind, name=name, partition=partition)


def parsed_policy(text: str, *, kind: policy.PolicyKind, name: str) -> policy.Policy:
    """A stored (hence already validated) document, parsed once per process."""
    return _parsed(text, kind, name, settings.BERTH_ARN_PARTITION)


# -- callers ------------------------------------------------------------------------


def caller_for_user(user, *, access_key_id: str = "") -> Caller:
    """The caller a signed-in Django user is: the account's root, an IAM user, or
    (outside any account: a staff operator) anonymous to policies. ``access_key_id``:
    the key that signed in (or that minted the login password that did)."""
    row = Membership.objects.filter(user_id=user.pk).values_list("account_id", "user__iam_root", "user_name").first()
    if row is None:
        return ANONYMOUS
    account_id, root_id, user_name = row
    return Caller(
        account_id=account_id,
        username=user_name,
        user_id=user.pk,
        is_root=root_id is not None,
        access_key_id=access_key_id,
        credential=credentials.fingerprint(user.password),
    )


def caller_for_role_session(session: RoleSession, *, access_key_id: str = "") -> Caller:
    role = session.role
    return Caller(
        account_id=role.account_id,
        role_session_id=session.pk,
        role_name=role.name,
        role_path=role.path,
        session_name=session.session_name,
        access_key_id=access_key_id,
    )


@dataclass(frozen=True)
class CallerIdentity:
    """STS GetCallerIdentity's answer."""

    account: str
    arn: str
    user_id: str


def caller_identity(caller: Caller, session: RoleSession | None = None) -> CallerIdentity:
    """Who ``caller`` is, as STS GetCallerIdentity says it. The user id is a role
    session's AssumedRoleId (``session``: the role session that signed), a root
    user's account id, or an IAM user's id."""
    if caller.is_role_session:
        user_id = session.assumed_role_id
    elif caller.is_root:
        user_id = caller.account_id
    else:
        user_id = str(caller.user_id)
    return CallerIdentity(account=caller.account_id, arn=caller.arn, user_id=user_id)


def role_session(session_id: int) -> RoleSession | None:
    """The unexpired session with its role; None once it expired or its role was deleted."""
    return RoleSession.objects.select_related("role").filter(pk=session_id, expires_at__gt=timezone.now()).first()


def is_root_user(user) -> bool:
    return RootUser.objects.filter(user_id=user.pk).exists()


# -- the policies that decide --------------------------------------------------------


def identity_policies(caller: Caller) -> list[policy.Policy]:
    """The parsed policies attached to the caller's user or to its session's role
    (the root user and anonymous callers: none). One query."""
    if caller.is_anonymous or caller.is_root:
        return []
    if caller.is_role_session:
        # Through the session row, so that an expired or deleted session (or role) has no rights
        # even when the caller was rebuilt from a token without loading the session.
        documents = ManagedPolicy.objects.filter(
            attachments__role__sessions__pk=caller.role_session_id,
            attachments__role__sessions__expires_at__gt=timezone.now(),
        )
    elif caller.user_id is not None:
        documents = ManagedPolicy.objects.filter(attachments__user_id=caller.user_id)
    else:
        return []
    return [
        parsed_policy(document, kind=policy.PolicyKind.IDENTITY, name=name)
        for name, document in documents.order_by("name", "pk").values_list("name", "document")
    ]


def repository_policy(repository: Repository) -> policy.Policy | None:
    document = RepositoryPolicy.objects.filter(repository=repository).values_list("document", flat=True).first()
    if document is None:
        return None
    return parsed_policy(document, kind=policy.PolicyKind.RESOURCE, name=REPOSITORY_POLICY_NAME)


def repository_policies(repository_ids: Iterable[int]) -> dict[int, policy.Policy]:
    """The parsed policies of these repositories, by repository id (one query; a
    repository without a policy is absent)."""
    rows = RepositoryPolicy.objects.filter(repository_id__in=list(repository_ids)).values_list(
        "repository_id", "document"
    )
    return {
        repository_id: parsed_policy(document, kind=policy.PolicyKind.RESOURCE, name=REPOSITORY_POLICY_NAME)
        for repository_id, document in rows
    }


def trust_policy(role: Role) -> policy.Policy:
    return parsed_policy(role.trust_policy, kind=policy.PolicyKind.RESOURCE, name=TRUST_POLICY_NAME)


def repository_policy_of(repository: Repository) -> RepositoryPolicy | None:
    return RepositoryPolicy.objects.filter(repository=repository).first()


def registry_policy_of(account_id: str) -> RegistryPolicy | None:
    """The account's registry policy as stored (GetRegistryPolicy), if it has one."""
    return RegistryPolicy.objects.filter(account_id=account_id).first()


def registry_policy(account_id: str) -> policy.Policy | None:
    """The account's registry policy, parsed (once per process per text)."""
    document = RegistryPolicy.objects.filter(account_id=account_id).values_list("document", flat=True).first()
    if document is None:
        return None
    return parsed_policy(document, kind=policy.PolicyKind.REGISTRY, name=REGISTRY_POLICY_NAME)


# -- principals named in policies ----------------------------------------------------


def principal_exists(arn: str, *, policy_account_id: str) -> bool:
    """Whether a principal ARN a policy of ``policy_account_id`` names (accounts as
    their root ARN, in the configured partition) is an account, a user of that
    account or one of its roles.

    Of another account only the account itself is checked: whether it has a user or
    role of some name is its own business, and answering would tell the policy's
    author (AssumeRole answers the same way whether such a role exists or not)."""
    parsed = policy.Arn.parse(arn, partition=settings.BERTH_ARN_PARTITION)
    kind, _, rest = parsed.resource.partition("/")
    if kind == "user" and "/" in rest:
        return False  # Berth's users have no path
    if not Account.objects.filter(pk=parsed.account).exists():
        return False
    if parsed.resource == "root" or parsed.account != policy_account_id:
        return True
    if kind == "user":
        return Membership.objects.filter(account_id=parsed.account, user_name=rest).exists()
    if kind == "role":
        path, _, name = f"/{rest}".rpartition("/")
        return Role.objects.filter(account_id=parsed.account, name=name, path=f"{path}/").exists()
    if kind == "assumed-role":
        role_name = rest.split("/", 1)[0]
        return Role.objects.filter(account_id=parsed.account, name=role_name).exists()
    return False


# -- users --------------------------------------------------------------------------


def users_of(account: Account) -> QuerySet:
    return (
        get_user_model()
        .objects.filter(membership__account=account)
        .select_related("membership", "iam_root")
        .order_by("membership__user_name")
    )


def user_of(account: Account, username: str):
    """The account's user of that name (exactly: it is the name policies' ARNs hold);
    another account's is as missing as none."""
    return users_of(account).filter(membership__user_name=username).first()


def user_arn(account: Account, username: str) -> str:
    return policy.user_arn(account.pk, username, partition=settings.BERTH_ARN_PARTITION)


# -- managed policies ---------------------------------------------------------------


def policies_visible_to(account: Account) -> QuerySet[ManagedPolicy]:
    """Berth's built-ins and the account's own, built-ins first."""
    return ManagedPolicy.objects.filter(Q(account__isnull=True) | Q(account=account)).order_by("account_id", "name")


def policy_named(account: Account, name: str) -> ManagedPolicy | None:
    """The account's own policy of that name, else the built-in one (AWS's names of
    the built-ins read the same)."""
    name = AWS_POLICY_SYNONYMS.get(name, name)
    return policies_visible_to(account).filter(name=name).order_by("-account_id").first()


class PolicyReferenceInvalid(ValueError):
    pass


def policy_for_reference(account: Account, reference: str) -> ManagedPolicy:
    """A policy by ARN (``arn:<partition>:iam::<account|berth|aws>:policy/<name>``)
    or by name, as the account may attach it. Raises PolicyReferenceInvalid
    (for a malformed ARN, another account's policy, or one that does not exist)."""
    if not reference.startswith("arn:"):
        found = policy_named(account, reference)
        if found is None:
            raise PolicyReferenceInvalid(f"no policy named '{reference}'")
        return found
    parts = reference.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or parts[3] or not parts[5].startswith("policy/"):
        raise PolicyReferenceInvalid(
            f"'{reference}' is not a policy ARN (arn:{settings.BERTH_ARN_PARTITION}:iam::<account>:policy/<name>)"
        )
    if parts[1] not in (settings.BERTH_ARN_PARTITION, "aws"):
        raise PolicyReferenceInvalid(
            f"policy ARN '{reference}' has partition '{parts[1]}', expected '{settings.BERTH_ARN_PARTITION}' or 'aws'"
        )
    owner, name = parts[4], parts[5].rsplit("/", 1)[-1]
    if owner in BUILTIN_POLICY_ACCOUNTS:
        found = ManagedPolicy.objects.filter(account__isnull=True, name=AWS_POLICY_SYNONYMS.get(name, name)).first()
    elif owner == account.pk:
        path = parts[5][len("policy") : -len(name)]
        found = ManagedPolicy.objects.filter(account=account, name=name, path=path).first()
    else:
        raise PolicyReferenceInvalid(
            f"policy '{reference}' belongs to another account; attach your own or a built-in one"
        )
    if found is None:
        raise PolicyReferenceInvalid(f"policy '{reference}' does not exist")
    return found


def attachments_of_user(user) -> QuerySet[PolicyAttachment]:
    return PolicyAttachment.objects.filter(user=user).select_related("policy").order_by("policy__name")


def attachments_of_role(role: Role) -> QuerySet[PolicyAttachment]:
    return PolicyAttachment.objects.filter(role=role).select_related("policy").order_by("policy__name")


# -- roles --------------------------------------------------------------------------


def roles_of(account: Account) -> QuerySet[Role]:
    return Role.objects.filter(account=account).order_by("name")


def role_of(account: Account, name: str) -> Role | None:
    return roles_of(account).filter(name=name).first()


def role_for_arn(arn: str) -> Role | None:
    """The role an ARN names (``arn:<partition>:iam::<account>:role<path><name>``);
    raises policy.ArnError when the text is not a role ARN."""
    parsed = policy.Arn.parse(arn, partition=settings.BERTH_ARN_PARTITION)
    if parsed.service != "iam" or parsed.region or not parsed.account or not parsed.resource.startswith("role/"):
        raise policy.ArnError(
            f"'{arn}' is not a role ARN (arn:{settings.BERTH_ARN_PARTITION}:iam::<account>:role/<name>)"
        )
    path, _, name = parsed.resource[len("role") :].rpartition("/")
    return Role.objects.filter(account_id=parsed.account, name=name, path=f"{path}/").first()


def identity_policies_of_role(role: Role) -> list[policy.Policy]:
    return [
        parsed_policy(document, kind=policy.PolicyKind.IDENTITY, name=name)
        for name, document in ManagedPolicy.objects.filter(attachments__role=role)
        .order_by("name", "pk")
        .values_list("name", "document")
    ]


# -- the simulator ------------------------------------------------------------------

SIMULATED_SESSION_NAME = "simulation"


class SimulationInvalid(ValueError):
    """The simulation names something malformed or unknown; the message says which."""


@dataclass(frozen=True)
class SimulatedPrincipal:
    principal: policy.Principal
    identity_policies: list[policy.Policy]


def simulation_principal(account: Account, principal_arn: str) -> SimulatedPrincipal:
    """The principal an ARN of the account names, with its identity policies: the
    root, a user, a role (as a session of it) or a role session."""
    partition = settings.BERTH_ARN_PARTITION
    try:
        arn = policy.Arn.parse(principal_arn, partition=partition)
    except policy.ArnError as error:
        raise SimulationInvalid(f"principalArn: {error}") from None
    if arn.account != account.pk:
        raise SimulationInvalid(f"principalArn '{principal_arn}' is not a principal of account {account.pk}")
    kind, _, rest = arn.resource.partition("/")
    if arn.service == "iam" and arn.resource == "root":
        return SimulatedPrincipal(policy.Principal.root(account.pk, partition=partition), [])
    if arn.service == "iam" and kind == "user":
        user = user_of(account, rest)
        if user is None:
            raise SimulationInvalid(f"principalArn: account {account.pk} has no user '{rest}'")
        caller = caller_for_user(user)
        return SimulatedPrincipal(caller.principal(), identity_policies(caller))
    if arn.service == "iam" and kind == "role":
        role = role_for_arn(principal_arn)
        session_name = SIMULATED_SESSION_NAME
    elif arn.service == "sts" and kind == "assumed-role" and "/" in rest:
        role_name, _, session_name = rest.partition("/")
        role = role_of(account, role_name)
    else:
        raise SimulationInvalid(
            f"principalArn '{principal_arn}' names no user, role or role session (nor the account root)"
        )
    if role is None:
        raise SimulationInvalid(f"principalArn: account {account.pk} has no such role ('{principal_arn}')")
    principal = policy.Principal.assumed_role(account.pk, role.name, session_name, path=role.path, partition=partition)
    return SimulatedPrincipal(principal, identity_policies_of_role(role))


def _known_action(action: str) -> str:
    for known in policy.ALL_ACTIONS:
        if known.lower() == action.lower():
            return known
    raise SimulationInvalid(f"unknown action '{action}'")


def _repository_named_by(account: Account, resource_arn: str) -> Repository | None:
    if resource_arn == "*":
        return None
    try:
        arn = policy.Arn.parse(resource_arn, partition=settings.BERTH_ARN_PARTITION)
    except policy.ArnError as error:
        raise SimulationInvalid(f"resourceArn: {error}") from None
    if arn.service not in ("ecr", "ecr-public") or arn.account != account.pk:
        return None
    kind, _, name = arn.resource.partition("/")
    if kind != "repository":
        return None
    return Repository.objects.filter(account=account, name=name).prefetch_related("resource_tags").first()


def simulate_principal_policy(
    account: Account,
    *,
    simulated: SimulatedPrincipal,
    actions: list[str],
    resource_arn: str = "*",
    source_ip: str | None = None,
    context: dict | None = None,
) -> list[tuple[str, policy.Decision]]:
    """IAM's SimulatePrincipalPolicy for a principal from simulation_principal: the
    decision for each action, with the statements behind it. A repository of the
    account brings its policy and its resource tags. Raises SimulationInvalid
    naming what is wrong."""
    known = [_known_action(action) for action in actions]
    repository = _repository_named_by(account, resource_arn)
    extra_keys = {}
    for key, value in (context or {}).items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(item, (str, int, float, bool)) for item in values):
            raise SimulationInvalid(f"context key '{key}': values must be strings, numbers or booleans")
        extra_keys[key] = value
    resource_policy = repository_policy(repository) if repository is not None else None
    tags = {tag.key: tag.value for tag in repository.resource_tags.all()} if repository is not None else {}
    return [
        (
            action,
            policy.simulate(
                simulated.principal,
                action,
                resource_arn,
                source_ip=source_ip,
                identity_policies=simulated.identity_policies,
                resource_policy=resource_policy,
                resource_tags=tags,
                extra_keys=extra_keys,
            ),
        )
        for action in known
    ]

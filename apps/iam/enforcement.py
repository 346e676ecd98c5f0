"""The one place Berth decides whether a caller may do an action: the token
service, every /v2/ request and every management API call ask ``decide``.

The order of the rules:

1. Nothing of a suspended account is served: not to its own callers, not as a
   public pull.
2. A public repository can be pulled by everyone, anonymous callers included,
   before any policy is consulted (Amazon ECR Public); one staff took down is
   not public (its own account's callers go on to the rules below).
3. An account's root user may do everything in its own account; no policy is
   loaded for it, so the manifest GET hot path costs no query here.
4. Everyone else gets what the policy core's ``evaluate`` says, over the caller's
   identity policies and the repository's policy, with the request's source
   address, user agent, transport and the repository's resource tags as
   condition keys.

Within one request, the caller's identity policies and a repository's policy and
tags are loaded once however many actions are decided (a token for push asks
about five).

``authorize`` is how the management API and the website ask: it starts the
request's audit event, named after the action, and refuses with NotAuthorized."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings

from apps.accounts.models import Account
from apps.audit import events
from apps.kernel.requests import client_ip
from apps.repositories.models import Repository, RepositoryTag

from . import policy, selectors
from .callers import Caller

# What a public repository gives everyone: the pull scope's actions.
PUBLIC_READ_ACTIONS = frozenset(
    {
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:ListImages",
        "ecr:DescribeImages",
    }
)
_RESOURCE_TAG_KEY_PREFIXES = ("aws:resourcetag/", "ecr:resourcetag/")

# CloudTrail's readOnly: operations that change nothing.
_READ_ONLY_OPERATIONS = ("Get", "List", "Describe", "BatchGet", "BatchCheck", "Simulate", "LookupEvents")
_ALLOWED_OUTSIDE_ACCOUNTS = policy.Decision(
    True,
    policy.Reason.ALLOW,
    (),
    "a user outside every account manages only its own credentials, which no account's policy governs",
)

ROOT_ALLOWED = policy.Decision(True, policy.Reason.ALLOW, (), "the account's root user may act on its own account")
PUBLIC_ALLOWED = policy.Decision(True, policy.Reason.ALLOW, (), "the repository is public: everyone may pull it")


def repository_arn(account_id: str, name: str, *, service: str = "ecr") -> str:
    """``arn:<partition>:ecr:<region>:<account>:repository/<name>``; ECR Public's
    ARNs name no region, as Amazon's do."""
    region = "" if service == "ecr-public" else settings.BERTH_REGION
    return str(policy.Arn(settings.BERTH_ARN_PARTITION, service, region, account_id, f"repository/{name}"))


def suspended(account_id: str) -> policy.Decision:
    return policy.Decision(False, policy.Reason.IMPLICIT_DENY, (), f"account {account_id} is suspended")


@dataclass
class _Memo:
    """What one request has loaded already."""

    identity: dict[Caller, list[policy.Policy]] = field(default_factory=dict)
    repositories: dict[int, tuple[policy.Policy | None, dict[str, str] | None]] = field(default_factory=dict)
    suspended_accounts: dict[str, bool] = field(default_factory=dict)


_MEMO_ATTRIBUTE = "berth_enforcement_memo"


def _memo(request) -> _Memo:
    if request is None:
        return _Memo()
    request = getattr(request, "_request", request)
    memo = getattr(request, _MEMO_ATTRIBUTE, None)
    if memo is None:
        memo = _Memo()
        setattr(request, _MEMO_ATTRIBUTE, memo)
    return memo


def _repository_account_suspended(repository: Repository) -> bool:
    # The registry's lookup (find_repository) reads the flag in its own query;
    # elsewhere the account is loaded (or already cached on the repository).
    flag = getattr(repository, "account_suspended", None)
    return repository.account.is_suspended if flag is None else flag


def _taken_down(repository: Repository) -> bool:
    # find_repository reads it as a flag in its one query; other callers load the column.
    flag = getattr(repository, "taken_down", None)
    return repository.is_taken_down if flag is None else flag


def _account_suspended(account_id: str, memo: _Memo) -> bool:
    if account_id not in memo.suspended_accounts:
        memo.suspended_accounts[account_id] = Account.objects.filter(pk=account_id, suspended_at__isnull=False).exists()
    return memo.suspended_accounts[account_id]


def resource_account(caller: Caller, resource_arn: str, repository: Repository | None = None) -> str:
    """The account whose resource this is: the repository's, the ARN's, else the caller's."""
    if repository is not None:
        return repository.account_id
    if resource_arn != "*":
        try:
            account = policy.Arn.parse(resource_arn, partition=settings.BERTH_ARN_PARTITION).account
        except policy.ArnError:
            account = ""
        if account:
            return account
    return caller.account_id


def _mentions_resource_tags(policies: Iterable[policy.Policy]) -> bool:
    return any(
        clause.key.lower().startswith(_RESOURCE_TAG_KEY_PREFIXES)
        for document in policies
        for statement in document.statements
        for clause in statement.conditions
    )


def _identity_policies(caller: Caller, memo: _Memo) -> list[policy.Policy]:
    if caller not in memo.identity:
        memo.identity[caller] = selectors.identity_policies(caller)
    return memo.identity[caller]


def _repository_context(
    repository: Repository, identity: list[policy.Policy], memo: _Memo
) -> tuple[policy.Policy | None, dict[str, str]]:
    """The repository's policy, and its resource tags when some policy asks about them."""
    resource_policy, tags = memo.repositories.get(repository.pk, (None, None))
    if repository.pk not in memo.repositories:
        resource_policy = selectors.repository_policy(repository)
    if tags is None and _mentions_resource_tags([*identity, *([resource_policy] if resource_policy else [])]):
        tags = dict(RepositoryTag.objects.filter(repository=repository).values_list("key", "value"))
    memo.repositories[repository.pk] = (resource_policy, tags)
    return resource_policy, tags or {}


def decide(
    caller: Caller,
    action: str,
    *,
    resource_arn: str,
    repository: Repository | None = None,
    request=None,
) -> policy.Decision:
    """May ``caller`` do ``action`` (``ecr:PutImage``) on ``resource_arn``?

    ``repository`` is the repository the ARN names, when it exists: its policy,
    tags, visibility and account then take part. ``request`` supplies the
    condition keys (source address, user agent, TLS) and the per-request memo."""
    return _decide(caller, action, resource_arn, repository, request, _memo(request))


def _decide(
    caller: Caller, action: str, resource_arn: str, repository: Repository | None, request, memo: _Memo
) -> policy.Decision:
    owner = resource_account(caller, resource_arn, repository)
    if repository is not None and _repository_account_suspended(repository):
        return suspended(repository.account_id)
    if (
        repository is not None
        and repository.is_public
        and action in PUBLIC_READ_ACTIONS
        and not _taken_down(repository)
    ):
        return PUBLIC_ALLOWED
    if caller.is_anonymous:
        return policy.Decision(
            False, policy.Reason.IMPLICIT_DENY, (), "anonymous callers are never authorized by policy"
        )
    own_account = owner == caller.account_id
    # A repository of the caller's own account has answered for the account above.
    if not (own_account and repository is not None) and _account_suspended(caller.account_id, memo):
        return suspended(caller.account_id)
    if caller.is_root and own_account:
        return ROOT_ALLOWED
    identity = _identity_policies(caller, memo)
    resource_policy, tags = _repository_context(repository, identity, memo) if repository else (None, {})
    circumstances = {}
    if request is not None:
        circumstances = {
            "source_ip": client_ip(request) or None,
            "user_agent": request.META.get("HTTP_USER_AGENT"),
            "secure_transport": request.is_secure(),
        }
    context = policy.RequestContext(
        principal=caller.principal(),
        action=action,
        resource=resource_arn,
        resource_account=owner,
        resource_tags=tags,
        **circumstances,
    )
    return policy.evaluate(context, identity_policies=identity, resource_policy=resource_policy)


def permitted(caller: Caller, action: str, repositories: Iterable[Repository], *, request=None) -> list[Repository]:
    """The repositories among ``repositories`` on which ``caller`` may do ``action``
    (DescribeRepositories for a listing), in their order. Their policies (and tags,
    when a policy asks about tags) are read in one query each, not one per
    repository; give the repositories with their account loaded."""
    repositories = list(repositories)
    memo = _memo(request)
    service = action.partition(":")[0]
    if not caller.is_anonymous:
        _load_repository_contexts(
            caller,
            [
                repository
                for repository in repositories
                if repository.pk not in memo.repositories
                and not (caller.is_root and repository.account_id == caller.account_id)
            ],
            memo,
        )
    return [
        repository
        for repository in repositories
        if _decide(
            caller,
            action,
            repository_arn(repository.account_id, repository.name, service=service),
            repository,
            request,
            memo,
        ).allowed
    ]


def _load_repository_contexts(caller: Caller, repositories: list[Repository], memo: _Memo) -> None:
    if not repositories:
        return
    ids = [repository.pk for repository in repositories]
    policies = selectors.repository_policies(ids)
    tags: dict[int, dict[str, str]] | None = None
    if _mentions_resource_tags([*_identity_policies(caller, memo), *policies.values()]):
        tags = {pk: {} for pk in ids}
        for pk, key, value in RepositoryTag.objects.filter(repository_id__in=ids).values_list(
            "repository_id", "key", "value"
        ):
            tags[pk][key] = value
    for pk in ids:
        memo.repositories[pk] = (policies.get(pk), None if tags is None else tags[pk])


class NotAuthorized(Exception):
    """The policies refuse ``action``; the message names the caller, the action, the
    resource and why."""

    def __init__(self, message: str, *, action: str, resource_arn: str) -> None:
        super().__init__(message)
        self.action = action
        self.resource_arn = resource_arn


def begin_event(
    request, caller: Caller, action: str, *, recipient_account_id: str, repository: str = "", **request_parameters
) -> events.EventDraft:
    """Start the request's audit event, named after ``action`` (``ecr:PutImage``)."""
    service, _, operation = action.partition(":")
    return events.begin(
        request,
        event_name=operation,
        event_source=service,
        actor=caller.actor(),
        read_only=operation.startswith(_READ_ONLY_OPERATIONS),
        recipient_account_id=recipient_account_id,
        repository=repository,
        **request_parameters,
    )


def _arn_for(service: str, repository: Repository | None, resource_arn: str | None) -> str:
    if repository is not None:
        return repository_arn(repository.account_id, repository.name, service=service)
    return resource_arn or "*"


def authorize(
    request,
    caller: Caller,
    action: str,
    *,
    repository: Repository | None = None,
    resource_arn: str | None = None,
    also: Iterable[str] = (),
    outside_accounts_allowed: bool = False,
    **request_parameters,
) -> policy.Decision:
    """May ``caller`` do ``action`` on ``repository`` (or the resource ``resource_arn``
    names; neither: ``*``), and the further actions ``also`` the request needs?

    Starts the request's audit event, named after ``action``, and raises
    NotAuthorized (the event then records the refusal) when the policies refuse
    any of them. ``outside_accounts_allowed`` lets a signed-in user outside every
    account (a staff operator) through: only the views of its own credentials
    allow it."""
    arn = _arn_for(action.partition(":")[0], repository, resource_arn)
    if repository is not None:
        request_parameters = {
            "registryId": repository.account_id,
            "repositoryName": repository.name,
            **request_parameters,
        }
    draft = begin_event(
        request,
        caller,
        action,
        recipient_account_id=resource_account(caller, arn, repository),
        repository=repository.name if repository is not None else "",
        **request_parameters,
    )
    if caller.is_anonymous and outside_accounts_allowed:
        return _ALLOWED_OUTSIDE_ACCOUNTS
    decision = None
    for needed in (action, *also):
        needed_arn = _arn_for(needed.partition(":")[0], repository, resource_arn)
        decided = decide(caller, needed, resource_arn=needed_arn, repository=repository, request=request)
        if not decided.allowed:
            message = (
                f"{caller.arn or 'an anonymous caller'} is not authorized to perform {needed} on {needed_arn}: "
                f"{decided.explanation}"
            )
            draft.refuse(message)
            raise NotAuthorized(message, action=needed, resource_arn=needed_arn)
        decision = decision or decided
    return decision

"""Who may do what to which repository, for the token service and for every /v2/
request. Actions use Amazon ECR's names; a token carries Docker's scope actions.

The token service grants a scope action when the policies allow any of its ECR
actions (for push: any of the writing ones) (apps.iam.enforcement decides); each request then checks its own ECR
action again, because a token for push covers five of them and policies may
change while a token lives.

A caller who may not read a private repository gets exactly the same answer
whether it exists or not."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError

from apps.audit import events
from apps.iam import credentials, enforcement
from apps.iam.callers import Caller
from apps.kernel.requests import RequestContext, request_context
from apps.repositories import selectors as repository_selectors
from apps.repositories import services as repository_services
from apps.repositories.models import Repository

from . import limits, upstream
from .exceptions import ActionDenied, PullRateExceeded, RepositoryUnknown, TokenInvalid, TokenRequired
from .tokens import InvalidToken, TokenClaims, verify_token

PULL, PUSH, DELETE = "pull", "push", "delete"

# The ECR actions each scope action stands for (the token service grants the scope
# action when the policies allow any of them).
SCOPE_ECR_ACTIONS = {
    PULL: ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"),
    PUSH: (
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:BatchCheckLayerAvailability",
        "ecr:PutImage",
    ),
    DELETE: ("ecr:BatchDeleteImage",),
}
# A push scope is granted for a write: BatchCheckLayerAvailability alone (in every
# read-only policy, ECR's included) must not hand a reader a push token that fails
# at the first upload.
_GRANTING_ECR_ACTIONS = {
    scope: tuple(a for a in actions if a != "ecr:BatchCheckLayerAvailability")
    for scope, actions in SCOPE_ECR_ACTIONS.items()
}
# The scope action a request's own ECR action needs in its token.
SCOPE_ACTION = {
    **{action: scope for scope, actions in SCOPE_ECR_ACTIONS.items() for action in actions},
    "ecr:ListImages": PULL,
    "ecr:DescribeImages": PULL,
}
READ_ONLY_ACTIONS = frozenset(
    {
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:ListImages",
        "ecr:DescribeImages",
        "ecr:BatchCheckLayerAvailability",
    }
)
CREATE_REPOSITORY = "ecr:CreateRepository"


def _creates_on_push(address: repository_selectors.Address) -> bool:
    return not address.via_alias and address.account.create_on_push


def granted_scope_actions(caller: Caller, full_name: str, requested: set[str], *, request=None) -> set[str]:
    """The scope actions among ``requested`` (``*``: all) the token service grants
    ``caller`` on ``full_name``.

    A missing repository of the caller's own account is judged on its would-be ARN,
    so members may learn that it is missing (NAME_UNKNOWN) and push creates it; a
    push that would create it also needs ecr:CreateRepository."""
    wanted = set(SCOPE_ECR_ACTIONS) if "*" in requested else set(SCOPE_ECR_ACTIONS) & requested
    if not wanted:
        return set()
    repository = repository_selectors.find_repository(full_name)
    if repository is not None:
        arn = enforcement.repository_arn(repository.account_id, repository.name)
    else:
        address = repository_selectors.resolve_address(full_name)
        if address is None or caller.is_anonymous or caller.account_id != address.account.pk:
            return set()
        arn = enforcement.repository_arn(address.account.pk, address.name)

    def allowed(action: str) -> bool:
        return enforcement.decide(caller, action, resource_arn=arn, repository=repository, request=request).allowed

    granted = {scope for scope in wanted if any(allowed(action) for action in _GRANTING_ECR_ACTIONS[scope])}
    if repository is None and PUSH in granted and _creates_on_push(address) and not allowed(CREATE_REPOSITORY):
        granted.discard(PUSH)
    return granted


def realm_url(request) -> str:
    base = settings.BERTH_PUBLIC_URL or f"{request.scheme}://{request.get_host()}"
    return f"{base}/token"


def challenge(request, *, scope: str | None = None, error: str | None = None) -> dict[str, str]:
    parts = [f'realm="{realm_url(request)}"', f'service="{settings.BERTH_TOKEN_SERVICE}"']
    if scope:
        parts.append(f'scope="{scope}"')
    if error:
        parts.append(f'error="{error}"')
    return {"WWW-Authenticate": "Bearer " + ",".join(parts)}


def _bearer_claims(request) -> TokenClaims | None:
    """The verified token of a request, None without one; a bad token is a 401."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    claims = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenRequired("use a bearer token from the token service")
        try:
            claims = verify_token(token.strip())
        except InvalidToken as exc:
            raise TokenInvalid(f"invalid token: {exc}") from exc
    return claims


def _revoked() -> TokenInvalid:
    return TokenInvalid(
        "invalid token: the credential it was issued from has changed or ended (a new password, a deactivated "
        "user or access key, a suspended account, an ended role session); sign in again"
    )


def request_claims(request) -> TokenClaims | None:
    """The verified token of a request whose credential still holds
    (apps.iam.credentials), None without one; a bad or revoked token is a 401."""
    if hasattr(request, "_berth_claims"):
        return request._berth_claims
    claims = _bearer_claims(request)
    if claims is not None and not credentials.is_live(claims.caller):
        raise _revoked()
    request._berth_claims = claims
    return claims


@dataclass(frozen=True)
class Authorized:
    """What a handler may go on with: the repository, who asks, and the request's
    audit event, which the handler adds to and a service records, given the
    ``actor`` and the request's ``context``."""

    repository: Repository
    caller: Caller
    audit: events.EventDraft
    context: RequestContext

    @property
    def actor(self) -> events.Actor:
        return self.caller.actor()


def authorize(request, full_name: str, action: str, *, create: bool = False, **request_parameters) -> Authorized:
    """One call per handler: may this request do ``action`` on ``full_name``?

    Returns the repository, creating it for a member's push when ``create`` is set,
    the account allows it and the caller may ecr:CreateRepository. Starts the
    request's audit event (once it has a token), with ``request_parameters``. Raises TokenRequired
    (outsiders: alike for private and missing repositories), ActionDenied for a member
    whose token holds the scope but whose policies refuse this very action, or
    RepositoryUnknown for a member whose repository is missing."""
    scope_action = SCOPE_ACTION[action]
    scope_actions = "pull,push" if scope_action == PUSH else scope_action
    checked = hasattr(request, "_berth_claims")
    claims = request_claims(request) if checked else _bearer_claims(request)

    def challenge_error() -> TokenRequired:
        return TokenRequired(
            repository=full_name,
            scope_action=scope_action,
            scope=f"repository:{full_name}:{scope_actions}",
            token_sent=claims is not None,
        )

    if claims is None:
        raise challenge_error()  # the first challenge every client gets: nothing to record
    caller = claims.caller
    if limits.counts_as_pull(request.method, action):
        _count_pull(request, caller, full_name, action, request_parameters)
    # Whether the token's credential still holds is read in the repository's query,
    # which reads the standing of the repository's account too: the caller's, under its id.
    own_namespace = not caller.is_anonymous and full_name.partition("/")[0] == caller.account_id
    liveness = None if checked else credentials.liveness_query(caller, account_read_too=own_namespace)
    repository = repository_selectors.find_repository(full_name, also_select=liveness)
    if liveness is not None:
        if repository is None:
            live = credentials.is_live(caller)  # a missing repository: asked on its own
        else:
            live = credentials.holds(caller, repository.also_selected) and not (
                own_namespace and repository.account_suspended
            )
        if not live:
            raise _revoked()
    request._berth_claims = claims
    address = None if repository is not None else repository_selectors.resolve_address(full_name)
    owner = repository.account_id if repository is not None else (address.account.pk if address else "")
    name = repository.name if repository is not None else (address.name if address else full_name)
    draft = events.begin(
        request,
        event_name=action.removeprefix("ecr:"),
        actor=caller.actor(),
        read_only=action in READ_ONLY_ACTIONS,
        recipient_account_id=owner,
        repository=name,
        registryId=owner,
        repositoryName=name,
        **request_parameters,
    )

    def refuse(message: str) -> TokenRequired:
        draft.refuse(message)
        return challenge_error()

    def deny(decided_action: str, decision) -> ActionDenied:
        message = f"not authorized to perform {decided_action} on {full_name}: {decision.explanation}"
        draft.refuse(message)
        return ActionDenied(message)

    if not claims.allows("repository", full_name, scope_action):
        raise refuse(f"the token does not grant {scope_action} on {full_name}")
    is_member = not caller.is_anonymous and caller.account_id == owner
    arn = enforcement.repository_arn(owner, name) if owner else ""
    if repository is None:
        if not is_member:
            raise refuse(f"{full_name} is not a repository this caller may reach")
        decision = enforcement.decide(caller, action, resource_arn=arn, request=request)
        if not decision.allowed:
            raise deny(action, decision)
        if not (create and _creates_on_push(address)):
            if action == "ecr:BatchGetImage" and not address.via_alias and upstream.covers(owner, name):
                # A pull-through cache's first pull creates it, as Amazon ECR does.
                for needed in (upstream.IMPORT_ACTION, CREATE_REPOSITORY):
                    decision = enforcement.decide(caller, needed, resource_arn=arn, request=request)
                    if not decision.allowed:
                        raise deny(needed, decision)
                context = request_context(request)
                repository = upstream.create_repository(
                    account=address.account, name=name, actor=caller.actor(), context=context
                )
                return Authorized(repository=repository, caller=caller, audit=draft, context=context)
            raise RepositoryUnknown(address.full_name, _missing_message(address))
        decision = enforcement.decide(caller, CREATE_REPOSITORY, resource_arn=arn, request=request)
        if not decision.allowed:
            raise deny(CREATE_REPOSITORY, decision)
        try:
            repository = repository_services.get_or_create_on_push(account=address.account, name=address.name)
        except IntegrityError as exc:
            raise RepositoryUnknown(address.full_name, "repository could not be created") from exc
        return Authorized(repository=repository, caller=caller, audit=draft, context=request_context(request))
    # The token was minted earlier: decide again (visibility and policies may have changed).
    decision = enforcement.decide(caller, action, resource_arn=arn, repository=repository, request=request)
    if not decision.allowed:
        raise deny(action, decision) if is_member else refuse(decision.explanation)
    return Authorized(repository=repository, caller=caller, audit=draft, context=request_context(request))


_PULL_QUOTA_ATTRIBUTE = "_berth_pull_quota"


def _count_pull(request, caller: Caller, full_name: str, action: str, request_parameters: dict) -> None:
    """Count a pull against its caller's limit (apps.registry.limits). Before any
    query: a refused pull costs no database work, only its audit event, which
    names the repository as asked for (its owner is not looked up)."""
    quota = limits.take(caller, request_context(request).client_ip)
    if quota is None:
        return
    setattr(request, _PULL_QUOTA_ATTRIBUTE, quota)
    if not quota.allowed:
        refusal = PullRateExceeded(quota)
        draft = events.begin(
            request,
            event_name=action.removeprefix("ecr:"),
            actor=caller.actor(),
            read_only=True,
            repositoryName=full_name,
            **request_parameters,
        )
        draft.error_code, draft.error_message = "ThrottlingException", refusal.message  # CloudTrail's name
        raise refusal


def pull_quota_headers(request) -> dict[str, str] | None:
    """The RateLimit header fields of a request that counted as a pull, once its
    caller has spent half its burst (a refusal carries them in its envelope).
    Not on every pull: three more header fields cost a manifest GET 1.6 % of its
    instructions (gunicorn checks and writes each), more than the limit itself,
    and a caller far from its limit has no use for them (bench/README.md)."""
    quota = getattr(request, _PULL_QUOTA_ATTRIBUTE, None)
    if quota is None or quota.remaining * 2 >= quota.limit:
        return None
    return quota.headers()


def pullable_source(request, full_name: str) -> Repository | None:
    """A cross-repository mount's source, if the request's token grants pull on it
    and the policies let its caller pull from it; None otherwise. The request's
    own audit event (the upload) is left alone."""
    claims = request_claims(request)
    if claims is None or not claims.allows("repository", full_name, PULL):
        return None
    repository = repository_selectors.find_repository(full_name)
    if repository is None:
        return None
    caller = claims.caller
    arn = enforcement.repository_arn(repository.account_id, repository.name)
    for action in SCOPE_ECR_ACTIONS[PULL]:
        if not enforcement.decide(caller, action, resource_arn=arn, repository=repository, request=request).allowed:
            return None
    return repository


def _missing_message(address: repository_selectors.Address) -> str:
    if address.via_alias:
        return (
            f"repository {address.full_name} does not exist or is not public; a public repository is created "
            f"with `berth create_repository --account {address.account.pk} --name {address.name} --public`"
        )
    return (
        f"repository {address.full_name} does not exist and account {address.account.pk} does not create "
        f"repositories on push; create it with "
        f"`berth create_repository --account {address.account.pk} --name {address.name}`"
    )

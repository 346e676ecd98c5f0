"""Who may do what to which repository, for the token service and for every /v2/
request. Actions use Amazon ECR's names; a token carries Docker's scope actions.

A caller who may not read a private repository gets exactly the same answer
whether it exists or not."""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError

from apps.accounts.authentication import ANONYMOUS, Principal
from apps.repositories import selectors as repository_selectors
from apps.repositories import services as repository_services
from apps.repositories.models import Repository

from .errors import RegistryError
from .tokens import InvalidToken, TokenClaims, verify_token

PULL, PUSH, DELETE = "pull", "push", "delete"

SCOPE_ACTION = {
    "ecr:BatchGetImage": PULL,
    "ecr:GetDownloadUrlForLayer": PULL,
    "ecr:ListImages": PULL,
    "ecr:DescribeImages": PULL,
    "ecr:InitiateLayerUpload": PUSH,
    "ecr:UploadLayerPart": PUSH,
    "ecr:CompleteLayerUpload": PUSH,
    "ecr:BatchCheckLayerAvailability": PUSH,
    "ecr:PutImage": PUSH,
    "ecr:BatchDeleteImage": DELETE,
}


def grantable_actions(principal: Principal, full_name: str) -> set[str]:
    """The scope actions the token service may grant ``principal`` on ``full_name``."""
    if principal.account_id:
        address = repository_selectors.resolve_address(full_name)
        if address is not None and principal.account_id == address.account.pk:
            # Members may learn that their own repository is missing (NAME_UNKNOWN).
            return {PULL, PUSH, DELETE}
    repository = repository_selectors.find_repository(full_name)
    if repository is not None and repository.is_public:
        return {PULL}
    return set()


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


def request_claims(request) -> TokenClaims | None:
    """The verified token of a request, None without one; a bad token is a 401."""
    if hasattr(request, "_berth_claims"):
        return request._berth_claims
    header = request.META.get("HTTP_AUTHORIZATION", "")
    claims = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise RegistryError("UNAUTHORIZED", "use a bearer token from the token service", headers=challenge(request))
        try:
            claims = verify_token(token.strip())
        except InvalidToken as exc:
            raise RegistryError(
                "UNAUTHORIZED", f"invalid token: {exc}", headers=challenge(request, error="invalid_token")
            ) from exc
    request._berth_claims = claims
    return claims


def principal_of(claims: TokenClaims | None) -> Principal:
    if claims is None or not claims.subject:
        return ANONYMOUS
    return Principal(username=claims.subject, account_id=claims.account_id)


@dataclass(frozen=True)
class Authorized:
    repository: Repository
    principal: Principal


def authorize(request, full_name: str, action: str, *, create: bool = False) -> Authorized:
    """One call per handler: may this request do ``action`` on ``full_name``?

    Returns the repository, creating it for a member's push when ``create`` is set
    and the account allows it. Raises the 401 challenge, or NAME_UNKNOWN for a
    member whose repository is missing."""
    scope_action = SCOPE_ACTION[action]
    scope_actions = "pull,push" if scope_action == PUSH else scope_action
    claims = request_claims(request)

    def refuse() -> RegistryError:
        return RegistryError(
            "UNAUTHORIZED",
            detail=[{"Type": "repository", "Name": full_name, "Action": scope_action}],
            headers=challenge(
                request,
                scope=f"repository:{full_name}:{scope_actions}",
                error="insufficient_scope" if claims is not None else None,
            ),
        )

    if claims is None or not claims.allows("repository", full_name, scope_action):
        raise refuse()
    principal = principal_of(claims)
    repository = repository_selectors.find_repository(full_name)
    if repository is None:
        address = repository_selectors.resolve_address(full_name)
        if address is None or not principal.account_id or principal.account_id != address.account.pk:
            raise refuse()
        if create and not address.via_alias and address.account.create_on_push:
            try:
                repository = repository_services.get_or_create_on_push(account=address.account, name=address.name)
            except repository_services.RepositoryNameInvalid as exc:
                raise RegistryError("NAME_INVALID", str(exc)) from exc
            except IntegrityError as exc:
                raise RegistryError("NAME_UNKNOWN", "repository could not be created") from exc
        else:
            raise RegistryError("NAME_UNKNOWN", _missing_message(address))
    is_member = bool(principal.account_id) and principal.account_id == repository.account_id
    # The token was minted earlier: check the grant still holds (visibility may have changed).
    if not is_member and not (repository.is_public and scope_action == PULL):
        raise refuse()
    return Authorized(repository=repository, principal=principal)


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

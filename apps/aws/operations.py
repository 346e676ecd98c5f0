"""The table of operations and what a handler is given.

A handler is a function of one `Call`, registered for its service and operation:

    @operation(ECR, "DeleteRepository")
    def delete_repository(call: Call) -> dict:
        repository = call.repository(call.params["repositoryName"], action="ecr:DeleteRepository")
        call.authorize("ecr:DeleteRepository", repository=repository)
        ...service(actor=call.actor, context=call.context)...
        return {"repository": ...}   # the operation's output shape, as Python values

`call.params` is the request as the operation's input shape reads (blobs as bytes,
timestamps as datetimes), already checked by botocore's validator; the returned
dict is written by the output shape (protocol.to_wire). A write (any operation
whose name does not start as a read's does) runs in one transaction, and its
service must record the audit event `authorize` started, as in the management
API. Operations of botocore's models without a handler answer
UnsupportedOperationException (see `unsupported`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from django.db import transaction

from apps.accounts import selectors as account_selectors
from apps.accounts.models import Account
from apps.audit import events
from apps.iam import enforcement
from apps.iam import selectors as iam_selectors
from apps.iam.callers import Caller
from apps.iam.policy import Decision
from apps.iam.surfaces import AccountRequest
from apps.kernel.errors import DomainError
from apps.kernel.requests import RequestContext, request_context
from apps.repositories.models import REPOSITORY_NAME_MAX_LENGTH, Repository

from . import protocol
from .errors import AccessDenied, AwsError, InvalidParameter, UnsupportedOperation, error
from .signing import Signer

Handler = Callable[["Call"], dict | None]


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    handler: Handler
    write: bool


_READ_PREFIXES = ("Describe", "Get", "List", "BatchGet", "BatchCheck", "Validate")
OPERATIONS: dict[tuple[str, str], Operation] = {}


def operation(service: str, name: str, *, write: bool | None = None) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``service``'s ``name``,
    which botocore's model must have. ``write``: runs in a transaction and must
    record its audit event (default: unless the name starts as a read's does)."""
    if protocol.operation_model(service, name) is None:
        raise LookupError(f"botocore's {service} model has no operation {name}")

    def register(handler: Handler) -> Handler:
        key = (service, name)
        if key in OPERATIONS:
            raise LookupError(f"{service} {name} has two handlers")
        OPERATIONS[key] = Operation(
            service, name, handler, write if write is not None else not name.startswith(_READ_PREFIXES)
        )
        return handler

    return register


# Operations of the models Berth answers with UnsupportedOperationException, and why
# (the README lists them). Every operation of the ECR and ECR Public models is
# either handled or here; a test holds the two lists together.
UNSUPPORTED: dict[tuple[str, str], str] = {}


def unsupported(service: str, names: Iterable[str], why: str) -> None:
    for name in names:
        if protocol.operation_model(service, name) is None:
            raise LookupError(f"botocore's {service} model has no operation {name}")
        UNSUPPORTED[(service, name)] = why


def find(service: str, name: str) -> Operation:
    """The handler of ``service``'s ``name``; raises the error AWS answers otherwise."""
    found = OPERATIONS.get((service, name))
    if found is not None:
        return found
    if (service, name) in UNSUPPORTED:
        raise UnsupportedOperation(f"Berth does not support {service}:{name}: {UNSUPPORTED[(service, name)]}")
    if protocol.operation_model(service, name) is not None:
        raise UnsupportedOperation(f"Berth does not support {service}:{name}")
    raise error("UnknownOperationException", f"{service} has no operation {name[:100]!r}")


class Call:
    """One request to one operation: its parameters, who signed it, and the
    surface's plumbing (the same as the management API's views)."""

    def __init__(self, request, service: str, name: str, params: dict, signer: Signer) -> None:
        self.request = request
        self.service = service
        self.name = name
        self.params = params
        self.signer = signer

    @cached_property
    def caller(self) -> Caller:
        if self.signer.session is not None:
            return iam_selectors.caller_for_role_session(
                self.signer.session, access_key_id=self.signer.session.access_key_id
            )
        return iam_selectors.caller_for_user(
            self.signer.access_key.user, access_key_id=self.signer.access_key.access_key_id
        )

    @cached_property
    def account(self) -> Account:
        """The caller's account; AccessDenied for a user outside every account."""
        if self.signer.session is not None:
            return self.signer.session.role.account
        account = account_selectors.account_of(self.signer.access_key.user)
        if account is None:
            raise AccessDenied("this user belongs to no account, so it owns no registry")
        return account

    @cached_property
    def primary_alias(self) -> str:
        """The account's primary alias, in public repositories' URIs (one query a request)."""
        return self.account.primary_alias

    @property
    def actor(self) -> events.Actor:
        return self.caller.actor()

    @property
    def context(self) -> RequestContext:
        return request_context(self.request)

    @property
    def registry_id(self) -> str:
        """The account whose registry the request is about: the caller's (run()
        refused any other `registryId` before the handler)."""
        return self.account.pk

    def check_registry_id(self) -> None:
        """Berth's AWS API manages the caller's own registry: another account's
        `registryId` is an InvalidParameterException (ECR's cross-account reads go
        through /v2/ and repository policies)."""
        named = self.params.get("registryId")
        if named and named != self.account.pk:
            raise InvalidParameter(
                f"registryId {named[:20]} is not the caller's registry ({self.account.pk}); this API manages the "
                "caller's own registry"
            )

    @cached_property
    def asking(self) -> AccountRequest:
        return AccountRequest(
            self.request, self.caller, self.account, refusal=lambda refused: AccessDenied(str(refused))
        )

    def authorize(self, action: str, **options) -> Decision:
        """Decide ``action`` (on ``repository=`` or ``resource_arn=``, with the
        further actions ``also=``) as every surface does (AccountRequest.authorize),
        starting the request's audit event; AccessDeniedException when refused."""
        return self.asking.authorize(action, **options)

    def begin_event(self, action: str, *, repository: str = "", **request_parameters) -> events.EventDraft:
        return self.asking.begin_event(action, repository=repository, **request_parameters)

    def repository_arn(self, name: str) -> str:
        return enforcement.repository_arn(self.account.pk, name, service=self.service)

    def repository(self, name: str, *, action: str) -> Repository:
        """The account's repository ``name`` (for ECR Public: its public
        repository); RepositoryNotFoundException otherwise. Starts the audit event
        of ``action`` first, so that a request for a missing repository is in the
        trail too."""
        repository = self.asking.repository(name, action=action)
        if repository is None:
            raise error(
                "RepositoryNotFoundException",
                f"The repository with name '{name[:REPOSITORY_NAME_MAX_LENGTH]}' does not exist in the registry "
                f"with id '{self.account.pk}'",
            )
        if self.service == protocol.ECR_PUBLIC and not repository.is_public:
            raise error(
                "RepositoryNotFoundException",
                f"The repository with name '{repository.name}' does not exist in the public registry with id "
                f"'{self.account.pk}': it is a private repository (Amazon ECR's API reaches it)",
            )
        return repository

    def permitted(self, action: str, repositories: Iterable[Repository]) -> list[Repository]:
        """For a listing: start the audit event of ``action`` and keep the
        repositories the caller may do it on."""
        return self.asking.permitted(action, repositories)


# Domain refusals in botocore's words, by class (nearest base class first). A
# DomainError not listed is an InvalidParameterException with its message.
DOMAIN_ERRORS: dict[type, str] = {}


def domain_errors(table: dict[type, str]) -> None:
    """Handler modules add the refusals of the services they call."""
    DOMAIN_ERRORS.update(table)


def as_aws_error(exc: Exception) -> AwsError | None:
    """The AwsError a domain refusal is, None for anything else (a bug: a 500)."""
    for cls in type(exc).__mro__:
        if cls in DOMAIN_ERRORS:
            return error(DOMAIN_ERRORS[cls], str(exc))
    if isinstance(exc, DomainError):
        return InvalidParameter(str(exc))
    return None


def run(call: Call, found: Operation) -> dict | None:
    """The handler's result; a write in one transaction, whose audit event the
    service must have recorded (events.require_recorded), rolled back on error."""
    call.check_registry_id()
    if not found.write:
        return found.handler(call)
    with transaction.atomic():
        result = found.handler(call)
        events.require_recorded(events.current(call.request), surface="the AWS API")
    return result

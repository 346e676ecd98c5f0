"""`/token`: the Docker registry token service.

Clients send HTTP Basic credentials (or none, for anonymous pulls) and the scopes
they want; the token carries only the actions the policies give this caller
(apps.registry.access.granted_scope_actions), and names the caller so that each
request decides its own action again. The credentials are a user's own username
and password, `berth` (or `AWS`) and a login password from GetAuthorizationToken,
or a temporary access key id and its session token (AssumeRole)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from apps.accounts.authentication import LoginPasswordRefused
from apps.accounts.throttle import Throttled
from apps.iam import selectors as iam_selectors
from apps.iam.authentication import caller_from_registry_credentials
from apps.iam.callers import ANONYMOUS, Caller
from apps.kernel.requests import client_ip

from ..access import granted_scope_actions
from ..tokens import AccessGrant, issue_token
from .base import check_name
from .errors import RegistryError

MAX_SCOPES = 32


def _basic_credentials(request) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if not header:
        return None
    if scheme.lower() != "basic":
        raise RegistryError("UNAUTHORIZED", "the token service takes HTTP Basic credentials")
    try:
        username, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise RegistryError("UNAUTHORIZED", "malformed Basic credentials") from None
    if not sep:
        raise RegistryError("UNAUTHORIZED", "malformed Basic credentials")
    return username, password


def _caller(request, credentials: tuple[str, str] | None) -> Caller:
    if credentials is None:
        return ANONYMOUS
    username, password = credentials
    refusal = "incorrect username or password"
    try:
        caller = caller_from_registry_credentials(username, password, client_ip=client_ip(request))
    except Throttled as exc:
        raise RegistryError("TOOMANYREQUESTS", str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    except LoginPasswordRefused as exc:
        caller, refusal = None, str(exc)
    if caller is None:
        raise RegistryError("UNAUTHORIZED", refusal, headers={"WWW-Authenticate": 'Basic realm="berth"'})
    return caller


def _session_end(caller: Caller) -> float | None:
    """When a role session's token must expire at the latest (never after the session)."""
    if not caller.is_role_session:
        return None
    session = iam_selectors.role_session(caller.role_session_id)
    if session is None:
        raise RegistryError(
            "UNAUTHORIZED",
            "the role session has ended; assume the role again",
            headers={"WWW-Authenticate": 'Basic realm="berth"'},
        )
    return session.expires_at.timestamp()


def _grant(request, caller: Caller, scope: str) -> AccessGrant:
    """One scope `type:name:actions`; names may contain ':' only in the type part."""
    type_, sep, rest = scope.partition(":")
    name, sep2, actions_text = rest.rpartition(":")
    if not sep or not sep2 or not name:
        raise RegistryError("UNSUPPORTED", f"malformed scope {scope[:200]!r}", status=400)
    requested = {a.strip() for a in actions_text.split(",") if a.strip()}
    if type_ == "repository":
        check_name(name)
        granted = granted_scope_actions(caller, name, requested, request=request)
    elif type_ == "registry" and name == "catalog":
        granted = requested  # the catalog itself lists only what the caller may see
    else:
        granted = set()
    return AccessGrant(type_, name, tuple(sorted(granted)))


@csrf_exempt
def token(request):
    try:
        if request.method == "GET":
            credentials = _basic_credentials(request)
            params = request.GET
        elif request.method == "POST":
            # The OAuth2 form containerd tries first: grant_type=password.
            params = request.POST
            if params.get("grant_type") != "password":
                raise RegistryError("UNSUPPORTED", "only grant_type=password is supported", status=400)
            credentials = (params.get("username", ""), params.get("password", ""))
        else:
            raise RegistryError("UNSUPPORTED", f"{request.method} is not supported", status=405)
        if credentials is not None and any("\x00" in part for part in credentials):
            # No user name or password holds one, and PostgreSQL could not even look it up.
            raise RegistryError("UNSUPPORTED", "credentials cannot hold a NUL character", status=400)
        service = params.get("service")
        if service and service != settings.BERTH_TOKEN_SERVICE:
            raise RegistryError(
                "UNSUPPORTED", f"this token service serves {settings.BERTH_TOKEN_SERVICE!r}", status=400
            )
        caller = _caller(request, credentials)
        not_after = _session_end(caller)
        scopes = [s for value in params.getlist("scope") for s in value.split(" ") if s]
        if len(scopes) > MAX_SCOPES:
            raise RegistryError("UNSUPPORTED", f"at most {MAX_SCOPES} scopes per token", status=400)
        access = [_grant(request, caller, scope) for scope in scopes]
        issued, expires_in, issued_at = issue_token(
            caller=caller, access=access, service=settings.BERTH_TOKEN_SERVICE, not_after=not_after
        )
    except RegistryError as exc:
        return exc.response()
    body = {
        "token": issued,
        "access_token": issued,
        "expires_in": expires_in,
        "issued_at": datetime.fromtimestamp(issued_at, tz=UTC).isoformat().replace("+00:00", "Z"),
    }
    response = HttpResponse(json.dumps(body), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response

"""`/token`: the Docker registry token service.

Clients send HTTP Basic credentials (or none, for anonymous pulls) and the scopes
they want; the token carries only the actions this principal may have. The
credentials are a user's own username and password, or `berth` (or `AWS`) and a
login password from GetAuthorizationToken."""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from apps.accounts.authentication import (
    ANONYMOUS,
    LoginPasswordRefused,
    Principal,
    Throttled,
    check_login_password,
    check_password,
    is_login_password_attempt,
    principal_for,
)

from ..access import grantable_actions
from ..errors import RegistryError
from ..tokens import AccessGrant, issue_token

MAX_SCOPES = 32


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


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


def _principal(request, credentials: tuple[str, str] | None) -> Principal:
    if credentials is None:
        return ANONYMOUS
    username, password = credentials
    refusal = "incorrect username or password"
    try:
        if is_login_password_attempt(username, password):
            principal = principal_for(check_login_password(password, client_ip=_client_ip(request)))
        else:
            principal = check_password(username, password, client_ip=_client_ip(request))
    except Throttled as exc:
        raise RegistryError(
            "TOOMANYREQUESTS", str(exc), headers={"Retry-After": str(exc.retry_after)}
        ) from None
    except LoginPasswordRefused as exc:
        principal, refusal = None, str(exc)
    if principal is None:
        raise RegistryError("UNAUTHORIZED", refusal, headers={"WWW-Authenticate": 'Basic realm="berth"'})
    return principal


def _grant(principal: Principal, scope: str) -> AccessGrant:
    """One scope `type:name:actions`; names may contain ':' only in the type part."""
    type_, sep, rest = scope.partition(":")
    name, sep2, actions_text = rest.rpartition(":")
    if not sep or not sep2 or not name:
        raise RegistryError("UNSUPPORTED", f"malformed scope {scope[:200]!r}", status=400)
    requested = {a.strip() for a in actions_text.split(",") if a.strip()}
    if type_ == "repository":
        grantable = grantable_actions(principal, name)
    elif type_ == "registry" and name == "catalog":
        grantable = {"*"}  # the catalog itself lists only what the caller may see
    else:
        grantable = set()
    if "*" in grantable:
        granted = requested
    elif "*" in requested:
        granted = grantable
    else:
        granted = requested & grantable
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
        service = params.get("service")
        if service and service != settings.BERTH_TOKEN_SERVICE:
            raise RegistryError(
                "UNSUPPORTED", f"this token service serves {settings.BERTH_TOKEN_SERVICE!r}", status=400
            )
        principal = _principal(request, credentials)
        scopes = [s for value in params.getlist("scope") for s in value.split(" ") if s]
        if len(scopes) > MAX_SCOPES:
            raise RegistryError("UNSUPPORTED", f"at most {MAX_SCOPES} scopes per token", status=400)
        access = [_grant(principal, scope) for scope in scopes]
        issued, expires_in, issued_at = issue_token(
            subject=principal.username,
            account_id=principal.account_id,
            access=access,
            service=settings.BERTH_TOKEN_SERVICE,
        )
    except RegistryError as exc:
        return exc.response()
    body = {
        "token": issued,
        "access_token": issued,
        "expires_in": expires_in,
        "issued_at": datetime.fromtimestamp(issued_at, tz=timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    response = HttpResponse(json.dumps(body), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


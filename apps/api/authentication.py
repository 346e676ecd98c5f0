"""How a management API request says who it is.

- A browser: Django's session, with DRF's SessionAuthentication (CSRF enforced).
- A program (the `berth` CLI, scripts): HTTP Basic with an access key id as the
  user name and its secret as the password.
- A program that has only a login password (GetAuthorizationToken, the password
  `docker login` takes): `Authorization: Bearer <login password>`.

A user's own password signs in only at the bootstrap endpoint that mints a key
(apps.api.accounts.views.BootstrapAccessKey)."""

from __future__ import annotations

import re

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, BasicAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from apps.accounts.authentication import LoginPasswordRefused, check_access_key, check_login_password
from apps.accounts.login_passwords import looks_like_login_password
from apps.accounts.models import ACCESS_KEY_ID_PATTERN
from apps.accounts.throttle import Throttled
from apps.kernel.requests import client_ip

_ACCESS_KEY_ID = re.compile(ACCESS_KEY_ID_PATTERN)
REALM = "berth-api"


class AccessKeyAuthentication(BasicAuthentication):
    """HTTP Basic with an access key pair; request.auth is the AccessKey."""

    www_authenticate_realm = REALM

    def authenticate_credentials(self, userid, password, request=None):
        if not _ACCESS_KEY_ID.match(userid):
            raise exceptions.AuthenticationFailed(
                "HTTP Basic takes an access key id (BKIA...) and its secret, not a username and password; "
                "mint a key with POST /api/v1/auth/access-keys"
            )
        try:
            access_key = check_access_key(userid, password, client_ip=client_ip(request))
        except Throttled as exc:
            raise exceptions.Throttled(wait=exc.retry_after, detail=str(exc)) from None
        if access_key is None:
            raise exceptions.AuthenticationFailed("unknown or inactive access key, or a wrong secret")
        return access_key.user, access_key


class LoginPasswordAuthentication(BaseAuthentication):
    """`Authorization: Bearer <login password>`. Any other scheme is left to the
    other authenticators (Basic to AccessKeyAuthentication, none to the session)."""

    def authenticate(self, request):
        scheme, _, credentials = get_authorization_header(request).partition(b" ")
        if scheme.lower() != b"bearer":
            return None
        try:
            password = credentials.strip().decode("ascii")
        except UnicodeDecodeError:
            password = ""
        if not looks_like_login_password(password):
            raise exceptions.AuthenticationFailed(
                "Bearer takes a login password (blp1....); get one with POST /api/v1/authorization-token"
            )
        try:
            user = check_login_password(password, client_ip=client_ip(request))
        except Throttled as exc:
            raise exceptions.Throttled(wait=exc.retry_after, detail=str(exc)) from None
        except LoginPasswordRefused as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return user, None

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{REALM}"'


class NotWithLoginPassword(BasePermission):
    """Refuses requests signed with a login password. It is a short-lived credential
    for the registry, and must not mint longer-lived ones (an access key) or renew
    itself: a leaked one then ends when it expires."""

    message = "a login password cannot manage credentials; sign with an access key or a browser session"
    code = "login_password_not_allowed"

    def has_permission(self, request, view) -> bool:
        return not isinstance(request.successful_authenticator, LoginPasswordAuthentication)

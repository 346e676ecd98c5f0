"""How a management API request says who it is.

- A browser: Django's session, with DRF's SessionAuthentication (CSRF enforced).
- A program (the `berth` CLI, scripts): HTTP Basic with an access key id as the
  user name and its secret as the password.

A user's own password signs in only at the bootstrap endpoint that mints a key
(apps.accounts.api.BootstrapAccessKey)."""
from __future__ import annotations

import re

from rest_framework import exceptions
from rest_framework.authentication import BasicAuthentication

from apps.accounts.authentication import Throttled, check_access_key
from apps.accounts.models import ACCESS_KEY_ID_PATTERN

_ACCESS_KEY_ID = re.compile(ACCESS_KEY_ID_PATTERN)
REALM = "berth-api"


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


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

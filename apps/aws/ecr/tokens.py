"""GetAuthorizationToken, for ECR and ECR Public: a login password, as the
management API's authorization-token view mints it (apps/api/accounts/views.py),
for `docker login --username AWS` (`aws ecr get-login-password`).

Signed with an access key, the password is the user's, bound to that key (it ends
when the key is deactivated or deleted); signed with a role session's temporary
credentials, it is the session's and expires no later than the session. Either
way it lasts BERTH_LOGIN_PASSWORD_TTL at most (12 hours by default)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from apps.accounts import links
from apps.accounts import services as account_services
from apps.accounts.login_passwords import IssuedLoginPassword
from apps.iam import services as iam_services

from .. import protocol
from ..operations import Call, operation

# The user name ECR's tokens carry; Berth's registry takes `berth` too.
USERNAME = "AWS"


def login_password(call: Call) -> IssuedLoginPassword:
    """A new login password for the request's signer, once its service's
    GetAuthorizationToken is authorized."""
    call.authorize("ecr:GetAuthorizationToken")  # for ECR Public too: the same password, so the same action
    if call.signer.session is not None:
        return iam_services.create_session_login_password(session=call.signer.session)
    access_key = call.signer.access_key
    return account_services.create_login_password(user=access_key.user, access_key=access_key)


def authorization_data(issued: IssuedLoginPassword) -> dict:
    """ECR Public's AuthorizationData; ECR's adds the proxyEndpoint."""
    return {
        "authorizationToken": base64.b64encode(f"{USERNAME}:{issued.password}".encode()).decode(),
        "expiresAt": datetime.fromtimestamp(issued.expires_at, tz=UTC),
    }


@operation(protocol.ECR, "GetAuthorizationToken")
def get_authorization_token(call: Call) -> dict:
    """One AuthorizationData per registry id asked for (the caller's own without
    registryIds): the same password, since every registry this server holds is
    behind the one endpoint, where policies decide what the caller may pull or push."""
    issued = login_password(call)
    data = authorization_data(issued) | {"proxyEndpoint": links.site_url(call.request)}
    registry_ids = list(dict.fromkeys(call.params.get("registryIds") or [None]))
    return {"authorizationData": [data for _ in registry_ids]}

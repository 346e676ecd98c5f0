"""Credentials: access keys, which programs use for the management API, and login
passwords, which `docker login` takes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from apps.accounts import selectors, services
from apps.accounts.authentication import LOGIN_PASSWORD_USERNAMES, check_password
from apps.accounts.models import AccessKey, AccessKeyStatus
from apps.accounts.throttle import Throttled
from apps.api.authentication import NotWithLoginPassword
from apps.api.exceptions import AccessDenied, Conflict
from apps.api.serializers import error_responses
from apps.api.views import PolicyAuthorizedView
from apps.iam import selectors as iam_selectors
from apps.iam import services as iam_services
from apps.iam.models import RoleSession
from apps.kernel.requests import client_ip

from .serializers import (
    AccessKeyListSerializer,
    AccessKeySerializer,
    AccessKeyUpdateSerializer,
    AuthorizationTokenSerializer,
    CredentialsSerializer,
    NewAccessKeySerializer,
)

ACCESS_KEYS_TAG = "access keys"
AUTHORIZATION_TOKEN_TAG = "registry login"
ACCESS_KEY_ID = OpenApiParameter(
    "access_key_id", str, OpenApiParameter.PATH, description="BKIA followed by 16 letters and digits"
)


def _own_user_arn(view: PolicyAuthorizedView) -> str:
    """The resource of IAM's access key operations: the signed-in user itself."""
    if view.caller.is_role_session:
        raise AccessDenied("a role session has no access keys: its credentials come from AssumeRole")
    return view.caller.arn


def _create(view: PolicyAuthorizedView, user) -> Response:
    try:
        new_key = services.create_access_key(user=user, actor=view.actor, context=view.context)
    except services.AccessKeyLimitExceeded as exc:
        raise Conflict(str(exc), code="access_key_limit_exceeded") from None
    return Response(NewAccessKeySerializer(new_key).data, status=status.HTTP_201_CREATED)


class AccessKeyList(PolicyAuthorizedView):
    permission_classes = [IsAuthenticated, NotWithLoginPassword]

    @extend_schema(
        operation_id="listAccessKeys",
        summary="List your access keys",
        description="IAM's ListAccessKeys, with each key's last use (to the minute).",
        responses={200: AccessKeyListSerializer, **error_responses(401, 403)},
        tags=[ACCESS_KEYS_TAG],
    )
    def get(self, request):
        self.authorize("iam:ListAccessKeys", resource_arn=_own_user_arn(self))
        keys = selectors.access_keys_of(request.user)
        return Response(AccessKeyListSerializer({"accessKeys": keys}).data)

    @extend_schema(
        operation_id="createAccessKey",
        summary="Create an access key",
        description="IAM's CreateAccessKey: a new active key for the signed-in user. The secret is in this "
        "response only. A user has at most two active keys.",
        request=None,
        responses={201: NewAccessKeySerializer, **error_responses(401, 403, 409)},
        tags=[ACCESS_KEYS_TAG],
    )
    def post(self, request):
        self.authorize("iam:CreateAccessKey", resource_arn=_own_user_arn(self))
        return _create(self, request.user)


class AccessKeyDetail(PolicyAuthorizedView):
    permission_classes = [IsAuthenticated, NotWithLoginPassword]

    def _access_key(self, request, access_key_id: str) -> AccessKey:
        access_key = selectors.access_key_of(request.user, access_key_id)
        if access_key is None:
            raise exceptions.NotFound(f"you have no access key {access_key_id[:40]}")
        return access_key

    @extend_schema(
        operation_id="updateAccessKey",
        summary="Deactivate or reactivate an access key",
        description="IAM's UpdateAccessKey: `INACTIVE` refuses the key from the next request on; `ACTIVE` "
        "takes it back into use (at most two active keys).",
        parameters=[ACCESS_KEY_ID],
        request=AccessKeyUpdateSerializer,
        responses={200: AccessKeySerializer, **error_responses(400, 401, 403, 404, 409)},
        tags=[ACCESS_KEYS_TAG],
    )
    def patch(self, request, access_key_id: str):
        access_key = self._access_key(request, access_key_id)
        update = AccessKeyUpdateSerializer(data=request.data)
        update.is_valid(raise_exception=True)
        self.authorize(
            "iam:UpdateAccessKey",
            resource_arn=_own_user_arn(self),
            accessKeyId=access_key.access_key_id,
            status=update.validated_data["status"],
        )
        if update.validated_data["status"] == AccessKeyStatus.ACTIVE:
            try:
                services.activate_access_key(access_key=access_key, actor=self.actor, context=self.context)
            except services.AccessKeyLimitExceeded as exc:
                raise Conflict(str(exc), code="access_key_limit_exceeded") from None
        else:
            services.deactivate_access_key(access_key=access_key, actor=self.actor, context=self.context)
        return Response(AccessKeySerializer(access_key).data)

    @extend_schema(
        operation_id="deleteAccessKey",
        summary="Delete an access key",
        description="IAM's DeleteAccessKey.",
        parameters=[ACCESS_KEY_ID],
        responses={204: None, **error_responses(401, 403, 404)},
        tags=[ACCESS_KEYS_TAG],
    )
    def delete(self, request, access_key_id: str):
        access_key = self._access_key(request, access_key_id)
        self.authorize("iam:DeleteAccessKey", resource_arn=_own_user_arn(self), accessKeyId=access_key.access_key_id)
        services.delete_access_key(access_key=access_key, actor=self.actor, context=self.context)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BootstrapAccessKey(PolicyAuthorizedView):
    """The one endpoint that takes a username and password: how `berth configure`
    gets its first access key. Failed attempts are throttled per username and
    client address, exactly as at the registry's token service."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="bootstrapAccessKey",
        summary="Create an access key with a username and password",
        description="IAM's CreateAccessKey for a program that has only a user's password (`berth configure`). "
        "The only endpoint that accepts a password; the secret is in this response only. An IAM user names its "
        "account: `<account id or alias>/<user name>`; the root user gives its own user name. Repeated failures "
        "from one address are refused with 429 for a while, like `docker login`'s.",
        request=CredentialsSerializer,
        responses={201: NewAccessKeySerializer, **error_responses(400, 403, 409, 429)},
        auth=[],
        tags=[ACCESS_KEYS_TAG],
    )
    def post(self, request):
        credentials = CredentialsSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        username = credentials.validated_data["username"]
        try:
            principal = check_password(username, credentials.validated_data["password"], client_ip=client_ip(request))
        except Throttled as exc:
            raise exceptions.Throttled(wait=exc.retry_after, detail=str(exc)) from None
        if principal is None:
            raise exceptions.AuthenticationFailed("incorrect username or password")
        user = get_user_model()._default_manager.get_by_natural_key(principal.username)
        self.caller = iam_selectors.caller_for_user(user)  # signed in by the password, not by the request
        self.authorize("iam:CreateAccessKey", resource_arn=_own_user_arn(self))
        return _create(self, user)


class AuthorizationToken(PolicyAuthorizedView):
    """A login password for the registry, for a user signed in with an access key or
    a session (a login password cannot renew itself)."""

    permission_classes = [IsAuthenticated, NotWithLoginPassword]

    @extend_schema(
        operation_id="getAuthorizationToken",
        summary="Get a login password for docker login",
        description="Amazon ECR's GetAuthorizationToken (`aws ecr get-login-password`): a password for "
        "`docker login --username berth --password-stdin <host>` (the user name `AWS` works too), valid "
        "12 hours by default (`BERTH_LOGIN_PASSWORD_TTL`) and until the user's password changes, the user is "
        "deactivated or, minted with an access key, that key is deactivated or deleted; registry tokens got with it "
        "end then too. It also signs requests to this API as `Authorization: Bearer <password>`, except the "
        "ones that manage credentials. Nothing is stored; every call mints a new one. Signed with a role "
        "session's temporary credentials, the password belongs to the session: it expires no later than the "
        "session and signs in at the registry only.",
        request=None,
        responses={200: AuthorizationTokenSerializer, **error_responses(401, 403)},
        tags=[AUTHORIZATION_TOKEN_TAG],
    )
    def post(self, request):
        self.authorize("ecr:GetAuthorizationToken")
        if isinstance(request.auth, RoleSession):
            # Temporary credentials: a login password bound to the session, never outliving it.
            issued = iam_services.create_session_login_password(session=request.auth)
        else:
            signing_key = request.auth if isinstance(request.auth, AccessKey) else None
            issued = services.create_login_password(user=request.user, access_key=signing_key)
        username = LOGIN_PASSWORD_USERNAMES[0]
        body = {
            "authorizationToken": base64.b64encode(f"{username}:{issued.password}".encode()).decode(),
            "username": username,
            "password": issued.password,
            "expiresAt": datetime.fromtimestamp(issued.expires_at, tz=UTC),
            "proxyEndpoint": settings.BERTH_PUBLIC_URL or f"{request.scheme}://{request.get_host()}",
        }
        response = Response(AuthorizationTokenSerializer(body).data)
        response["Cache-Control"] = "no-store"
        return response

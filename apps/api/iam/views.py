"""IAM and STS in the management API: repository policies, users, managed
policies and their attachments, roles, AssumeRole, GetCallerIdentity and the
policy simulator, all over the caller's own account.

Each handler names its IAM action in one ``authorize`` call (apps.api.views), so
what a non-root caller may do here is itself decided by policy. Another
account's user, role or repository is never found (404)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import ValidationError as PasswordInvalid
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response

from apps.accounts import services as account_services
from apps.accounts.services import AccessKeyLimitExceeded
from apps.api.accounts.serializers import NewAccessKeySerializer
from apps.api.exceptions import BadRequest, Conflict
from apps.api.serializers import error_responses
from apps.api.views import AccountScopedView
from apps.iam import policy, selectors, services
from apps.iam.models import ManagedPolicy, Role
from apps.kernel.requests import client_ip
from apps.repositories.models import Repository

from .serializers import (
    AssumeRoleResponseSerializer,
    AssumeRoleSerializer,
    AttachedPolicyListSerializer,
    AttachPolicySerializer,
    CallerIdentitySerializer,
    CreatePolicySerializer,
    CreateRoleSerializer,
    CreateUserSerializer,
    ManagedPolicyDetailSerializer,
    ManagedPolicyListSerializer,
    RepositoryPolicySerializer,
    RoleDetailSerializer,
    RoleListSerializer,
    SetRepositoryPolicySerializer,
    SimulateSerializer,
    SimulationSerializer,
    UpdateTrustPolicySerializer,
    UserListSerializer,
    UserSerializer,
)

IAM_TAG = "iam"
STS_TAG = "sts"
REPOSITORY_POLICY_TAG = "repository policies"
REPOSITORY_NAME = OpenApiParameter("name", str, OpenApiParameter.PATH, description="the repository name, `/` included")
USER_NAME = OpenApiParameter("user_name", str, OpenApiParameter.PATH, description="the IAM user's name")
ROLE_NAME = OpenApiParameter("role_name", str, OpenApiParameter.PATH, description="the role's name")
POLICY_NAME = OpenApiParameter("policy_name", str, OpenApiParameter.PATH, description="the policy's name")
POLICY_REFERENCE = OpenApiParameter(
    "policy", str, OpenApiParameter.PATH, description="the attached policy's ARN or name"
)


def _invalid(field: str, message: str, code: str = "invalid") -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [ErrorDetail(message, code=code)]})


class _IamView(AccountScopedView):
    def _user(self, user_name: str):
        user = selectors.user_of(self.account, user_name)
        if user is None:
            raise exceptions.NotFound(f"account {self.account.pk} has no user {user_name[:64]}")
        return user

    def _user_arn(self, user_name: str) -> str:
        return selectors.user_arn(self.account, user_name)

    def _role(self, role_name: str) -> Role:
        role = selectors.role_of(self.account, role_name)
        if role is None:
            raise exceptions.NotFound(f"account {self.account.pk} has no role {role_name[:64]}")
        return role

    def _role_arn(self, role_name: str) -> str:
        """The role's ARN with its path; the ARN it would have, for one not (yet) there."""
        role = selectors.role_of(self.account, role_name)
        if role is not None:
            return role.arn
        return policy.role_arn(self.account.pk, role_name, partition=settings.BERTH_ARN_PARTITION)

    def _visible_policy(self, policy_name: str) -> ManagedPolicy:
        found = selectors.policy_named(self.account, policy_name)
        if found is None:
            raise exceptions.NotFound(f"no policy named {policy_name[:128]}")
        return found

    def _policy_reference(self, reference: str, *, field: str = "policyArn") -> ManagedPolicy:
        try:
            return selectors.policy_for_reference(self.account, reference)
        except selectors.PolicyReferenceInvalid as exc:
            raise _invalid(field, str(exc)) from None


def _user_representation(user) -> dict:
    name = user.membership.user_name
    return {
        "username": name,
        "pk": user.pk,
        "arn": policy.user_arn(user.membership.account_id, name, partition=settings.BERTH_ARN_PARTITION),
        "is_root": hasattr(user, "iam_root"),
        "date_joined": user.date_joined,
    }


# -- repository policies -------------------------------------------------------------


class RepositoryPolicyDetail(AccountScopedView):
    def _represent(self, repository: Repository, text: str) -> Response:
        body = {"registry_id": repository.account_id, "repository_name": repository.name, "policy_text": text}
        return Response(RepositoryPolicySerializer(body).data)

    @extend_schema(
        operation_id="getRepositoryPolicy",
        summary="Get a repository's policy",
        description="Amazon ECR's GetRepositoryPolicy; 404 `repository_policy_not_found` when it has none.",
        parameters=[REPOSITORY_NAME],
        responses={200: RepositoryPolicySerializer, **error_responses(401, 403, 404)},
        tags=[REPOSITORY_POLICY_TAG],
    )
    def get(self, request, name: str):
        repository = self.repository_named(name, action="ecr:GetRepositoryPolicy")
        self.authorize("ecr:GetRepositoryPolicy", repository=repository)
        stored = selectors.repository_policy_of(repository)
        if stored is None:
            raise exceptions.NotFound(
                f"repository {repository.name} has no repository policy", code="repository_policy_not_found"
            )
        return self._represent(repository, stored.document)

    @extend_schema(
        operation_id="setRepositoryPolicy",
        summary="Set a repository's policy",
        description="Amazon ECR's SetRepositoryPolicy: replaces the policy. It is validated first (JSON, "
        "actions, ARNs, and that every principal it names exists); the error names the statement at fault.",
        parameters=[REPOSITORY_NAME],
        request=SetRepositoryPolicySerializer,
        responses={200: RepositoryPolicySerializer, **error_responses(400, 401, 403, 404)},
        tags=[REPOSITORY_POLICY_TAG],
    )
    def put(self, request, name: str):
        repository = self.repository_named(name, action="ecr:SetRepositoryPolicy")
        self.authorize("ecr:SetRepositoryPolicy", repository=repository)
        given = SetRepositoryPolicySerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            stored = services.set_repository_policy(
                repository=repository,
                document=given.validated_data["policy_text"],
                actor=self.actor,
                context=self.context,
            )
        except services.PolicyInvalid as exc:
            raise _invalid("policyText", str(exc), "policy_invalid") from None
        return self._represent(repository, stored.document)

    @extend_schema(
        operation_id="deleteRepositoryPolicy",
        summary="Delete a repository's policy",
        description="Amazon ECR's DeleteRepositoryPolicy: answers with the policy it deleted.",
        parameters=[REPOSITORY_NAME],
        responses={200: RepositoryPolicySerializer, **error_responses(401, 403, 404)},
        tags=[REPOSITORY_POLICY_TAG],
    )
    def delete(self, request, name: str):
        repository = self.repository_named(name, action="ecr:DeleteRepositoryPolicy")
        self.authorize("ecr:DeleteRepositoryPolicy", repository=repository)
        stored = selectors.repository_policy_of(repository)
        if stored is None or not services.delete_repository_policy(
            repository=repository, actor=self.actor, context=self.context
        ):
            raise exceptions.NotFound(
                f"repository {repository.name} has no repository policy", code="repository_policy_not_found"
            )
        return self._represent(repository, stored.document)


# -- users --------------------------------------------------------------------------


class UserList(_IamView):
    @extend_schema(
        operation_id="listUsers",
        summary="List the account's users",
        description="IAM's ListUsers: the root user and every IAM user of the account.",
        responses={200: UserListSerializer, **error_responses(401, 403)},
        tags=[IAM_TAG],
    )
    def get(self, request):
        self.authorize("iam:ListUsers")
        users = selectors.users_of(self.account)
        return Response(UserListSerializer({"users": [_user_representation(u) for u in users]}).data)

    @extend_schema(
        operation_id="createUser",
        summary="Create an IAM user",
        description="IAM's CreateUser. A user's name is unique within the account, ignoring case (409 "
        "`entity_already_exists`); other accounts may have users of the same name. A new user may do nothing until "
        "a policy is attached. Without a password it signs in with access keys only; with one, it signs in (website, "
        "`docker login`, `berth configure`) as `<account id or alias>/<user name>`.",
        request=CreateUserSerializer,
        responses={201: UserSerializer, **error_responses(400, 401, 403, 409)},
        tags=[IAM_TAG],
    )
    def post(self, request):
        given = CreateUserSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        self.authorize("iam:CreateUser", resource_arn=self._user_arn(data["user_name"]), userName=data["user_name"])
        try:
            user = services.create_user(
                account=self.account,
                username=data["user_name"],
                password=data.get("password", ""),
                email=data.get("email", ""),
                actor=self.actor,
                context=self.context,
            )
        except services.NameInvalid as exc:
            raise _invalid("userName", str(exc)) from None
        except services.NameTaken as exc:
            raise Conflict(str(exc), code="entity_already_exists") from None
        except PasswordInvalid as exc:
            raise _invalid("password", " ".join(exc.messages), "password_invalid") from None
        user = selectors.user_of(self.account, user.membership.user_name)
        return Response(UserSerializer(_user_representation(user)).data, status=status.HTTP_201_CREATED)


class UserDetail(_IamView):
    @extend_schema(
        operation_id="getUser",
        summary="Describe a user",
        description="IAM's GetUser.",
        parameters=[USER_NAME],
        responses={200: UserSerializer, **error_responses(401, 403, 404)},
        tags=[IAM_TAG],
    )
    def get(self, request, user_name: str):
        self.authorize("iam:GetUser", resource_arn=self._user_arn(user_name))
        user = self._user(user_name)
        return Response(UserSerializer(_user_representation(user)).data)

    @extend_schema(
        operation_id="deleteUser",
        summary="Delete a user",
        description="IAM's DeleteUser: the user, its access keys and its policy attachments. The root user "
        "cannot be deleted (409 `delete_conflict`).",
        parameters=[USER_NAME],
        responses={204: None, **error_responses(401, 403, 404, 409)},
        tags=[IAM_TAG],
    )
    def delete(self, request, user_name: str):
        self.authorize("iam:DeleteUser", resource_arn=self._user_arn(user_name))
        try:
            services.delete_user(user=self._user(user_name), actor=self.actor, context=self.context)
        except services.UserNotDeletable as exc:
            raise Conflict(str(exc), code="delete_conflict") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserAccessKeys(_IamView):
    @extend_schema(
        operation_id="createUserAccessKey",
        summary="Create an access key for a user",
        description="IAM's CreateAccessKey with a UserName: a new active key for that user of the account. The "
        "secret is in this response only; a user has at most two active keys (409).",
        parameters=[USER_NAME],
        request=None,
        responses={201: NewAccessKeySerializer, **error_responses(401, 403, 404, 409)},
        tags=[IAM_TAG],
    )
    def post(self, request, user_name: str):
        self.authorize("iam:CreateAccessKey", resource_arn=self._user_arn(user_name))
        try:
            new_key = account_services.create_access_key(
                user=self._user(user_name), actor=self.actor, context=self.context
            )
        except AccessKeyLimitExceeded as exc:
            raise Conflict(str(exc), code="access_key_limit_exceeded") from None
        return Response(NewAccessKeySerializer(new_key).data, status=status.HTTP_201_CREATED)


class _Attachments(_IamView):
    """Attach, list and detach managed policies of a user or a role."""

    holder_kind = "user"  # or "role"
    list_action = attach_action = detach_action = ""

    def _holder(self, name: str) -> dict:
        return {"user": self._user(name)} if self.holder_kind == "user" else {"role": self._role(name)}

    def _holder_arn(self, name: str) -> str:
        return self._user_arn(name) if self.holder_kind == "user" else self._role_arn(name)

    def _attachments(self, holder: dict):
        if "user" in holder:
            return selectors.attachments_of_user(holder["user"])
        return selectors.attachments_of_role(holder["role"])

    def _list(self, name: str) -> Response:
        self.authorize(self.list_action, resource_arn=self._holder_arn(name))
        holder = self._holder(name)
        return Response(AttachedPolicyListSerializer({"attached_policies": self._attachments(holder)}).data)

    def _attach(self, request, name: str) -> Response:
        given = AttachPolicySerializer(data=request.data)
        given.is_valid(raise_exception=True)
        self.authorize(
            self.attach_action, resource_arn=self._holder_arn(name), policyArn=given.validated_data["policy_arn"]
        )
        holder = self._holder(name)
        managed_policy = self._policy_reference(given.validated_data["policy_arn"])
        try:
            services.attach_policy(
                account=self.account, managed_policy=managed_policy, **holder, actor=self.actor, context=self.context
            )
        except services.AttachmentRefused as exc:
            raise _invalid("policyArn", str(exc)) from None
        return Response(
            AttachedPolicyListSerializer({"attached_policies": self._attachments(holder)}).data,
            status=status.HTTP_201_CREATED,
        )

    def _detach(self, name: str, reference: str) -> Response:
        self.authorize(self.detach_action, resource_arn=self._holder_arn(name), policyArn=reference)
        holder = self._holder(name)
        managed_policy = self._policy_reference(reference, field="policy")
        try:
            services.detach_policy(managed_policy=managed_policy, **holder, actor=self.actor, context=self.context)
        except services.AttachmentRefused as exc:
            raise exceptions.NotFound(str(exc)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class _UserAttachments(_Attachments):
    holder_kind = "user"
    list_action, attach_action, detach_action = (
        "iam:ListAttachedUserPolicies",
        "iam:AttachUserPolicy",
        "iam:DetachUserPolicy",
    )


class UserPolicies(_UserAttachments):
    @extend_schema(
        operation_id="listAttachedUserPolicies",
        summary="List the policies attached to a user",
        description="IAM's ListAttachedUserPolicies.",
        parameters=[USER_NAME],
        responses={200: AttachedPolicyListSerializer, **error_responses(401, 403, 404)},
        tags=[IAM_TAG],
    )
    def get(self, request, user_name: str):
        return self._list(user_name)

    @extend_schema(
        operation_id="attachUserPolicy",
        summary="Attach a policy to a user",
        description="IAM's AttachUserPolicy: a built-in policy (`arn:berth:iam::berth:policy/BerthRegistryReadOnly`; "
        "AWS's `AmazonEC2ContainerRegistry*` names work too) or one of the account's own. Attaching twice is "
        "harmless; another account's policy is refused.",
        parameters=[USER_NAME],
        request=AttachPolicySerializer,
        responses={201: AttachedPolicyListSerializer, **error_responses(400, 401, 403, 404)},
        tags=[IAM_TAG],
    )
    def post(self, request, user_name: str):
        return self._attach(request, user_name)


class UserPolicyDetail(_UserAttachments):
    @extend_schema(
        operation_id="detachUserPolicy",
        summary="Detach a policy from a user",
        description="IAM's DetachUserPolicy; the policy by ARN or name.",
        parameters=[USER_NAME, POLICY_REFERENCE],
        responses={204: None, **error_responses(400, 401, 403, 404)},
        tags=[IAM_TAG],
    )
    def delete(self, request, user_name: str, policy: str):
        return self._detach(user_name, policy)


# -- managed policies ---------------------------------------------------------------


class PolicyList(_IamView):
    @extend_schema(
        operation_id="listPolicies",
        summary="List managed policies",
        description="IAM's ListPolicies: the policies built into Berth and the account's own.",
        responses={200: ManagedPolicyListSerializer, **error_responses(401, 403)},
        tags=[IAM_TAG],
    )
    def get(self, request):
        self.authorize("iam:ListPolicies")
        policies = selectors.policies_visible_to(self.account)
        return Response(ManagedPolicyListSerializer({"policies": policies}).data)

    @extend_schema(
        operation_id="createPolicy",
        summary="Create a managed policy",
        description="IAM's CreatePolicy: an identity policy to attach to users and roles. It is validated "
        "first; the error names the statement at fault.",
        request=CreatePolicySerializer,
        responses={201: ManagedPolicyDetailSerializer, **error_responses(400, 401, 403, 409)},
        tags=[IAM_TAG],
    )
    def post(self, request):
        given = CreatePolicySerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        arn = f"arn:{settings.BERTH_ARN_PARTITION}:iam::{self.account.pk}:policy{data['path']}{data['policy_name']}"
        self.authorize("iam:CreatePolicy", resource_arn=arn, policyName=data["policy_name"])
        try:
            created = services.create_policy(
                account=self.account,
                name=data["policy_name"],
                document=data["policy_document"],
                description=data["description"],
                path=data["path"],
                actor=self.actor,
                context=self.context,
            )
        except services.PolicyInvalid as exc:
            raise _invalid("policyDocument", str(exc), "policy_invalid") from None
        except services.NameInvalid as exc:
            raise _invalid("path" if exc.what == "path" else "policyName", str(exc)) from None
        except services.NameTaken as exc:
            raise Conflict(str(exc), code="entity_already_exists") from None
        return Response(ManagedPolicyDetailSerializer(created).data, status=status.HTTP_201_CREATED)


class PolicyDetail(_IamView):
    @extend_schema(
        operation_id="getPolicy",
        summary="Get a managed policy with its document",
        description="IAM's GetPolicy and GetPolicyVersion in one: the account's own policy of that name, or a "
        "built-in one.",
        parameters=[POLICY_NAME],
        responses={200: ManagedPolicyDetailSerializer, **error_responses(401, 403, 404)},
        tags=[IAM_TAG],
    )
    def get(self, request, policy_name: str):
        managed_policy = self._visible_policy(policy_name)
        self.authorize("iam:GetPolicy", resource_arn=managed_policy.arn)
        return Response(ManagedPolicyDetailSerializer(managed_policy).data)

    @extend_schema(
        operation_id="deletePolicy",
        summary="Delete a managed policy",
        description="IAM's DeletePolicy: refused (409 `delete_conflict`) while the policy is attached, and for "
        "built-in policies.",
        parameters=[POLICY_NAME],
        responses={204: None, **error_responses(401, 403, 404, 409)},
        tags=[IAM_TAG],
    )
    def delete(self, request, policy_name: str):
        managed_policy = self._visible_policy(policy_name)
        self.authorize("iam:DeletePolicy", resource_arn=managed_policy.arn)
        try:
            services.delete_policy(managed_policy=managed_policy, actor=self.actor, context=self.context)
        except (services.PolicyInUse, services.AttachmentRefused) as exc:
            raise Conflict(str(exc), code="delete_conflict") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- roles ------------------------------------------------------------------------------


class RoleList(_IamView):
    @extend_schema(
        operation_id="listRoles",
        summary="List the account's roles",
        description="IAM's ListRoles.",
        responses={200: RoleListSerializer, **error_responses(401, 403)},
        tags=[IAM_TAG],
    )
    def get(self, request):
        self.authorize("iam:ListRoles")
        return Response(RoleListSerializer({"roles": selectors.roles_of(self.account)}).data)

    @extend_schema(
        operation_id="createRole",
        summary="Create a role",
        description="IAM's CreateRole with its trust policy (who may assume it: account ids, user and role ARNs, "
        "`*`), validated first.",
        request=CreateRoleSerializer,
        responses={201: RoleDetailSerializer, **error_responses(400, 401, 403, 409)},
        tags=[IAM_TAG],
    )
    def post(self, request):
        given = CreateRoleSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        self.authorize("iam:CreateRole", resource_arn=self._role_arn(data["role_name"]), roleName=data["role_name"])
        try:
            role = services.create_role(
                account=self.account,
                name=data["role_name"],
                trust_policy=data["assume_role_policy_document"],
                path=data["path"],
                description=data["description"],
                max_session_duration=data["max_session_duration"],
                actor=self.actor,
                context=self.context,
            )
        except services.PolicyInvalid as exc:
            raise _invalid("assumeRolePolicyDocument", str(exc), "policy_invalid") from None
        except services.NameInvalid as exc:
            raise _invalid("path" if exc.what == "path" else "roleName", str(exc)) from None
        except services.NameTaken as exc:
            raise Conflict(str(exc), code="entity_already_exists") from None
        return Response(RoleDetailSerializer(role).data, status=status.HTTP_201_CREATED)


class RoleDetail(_IamView):
    @extend_schema(
        operation_id="getRole",
        summary="Describe a role with its trust policy",
        description="IAM's GetRole.",
        parameters=[ROLE_NAME],
        responses={200: RoleDetailSerializer, **error_responses(401, 403, 404)},
        tags=[IAM_TAG],
    )
    def get(self, request, role_name: str):
        self.authorize("iam:GetRole", resource_arn=self._role_arn(role_name))
        return Response(RoleDetailSerializer(self._role(role_name)).data)

    @extend_schema(
        operation_id="deleteRole",
        summary="Delete a role",
        description="IAM's DeleteRole: its attachments go with it, and its sessions' temporary credentials stop "
        "working at once.",
        parameters=[ROLE_NAME],
        responses={204: None, **error_responses(401, 403, 404)},
        tags=[IAM_TAG],
    )
    def delete(self, request, role_name: str):
        self.authorize("iam:DeleteRole", resource_arn=self._role_arn(role_name))
        services.delete_role(role=self._role(role_name), actor=self.actor, context=self.context)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoleTrustPolicy(_IamView):
    @extend_schema(
        operation_id="updateAssumeRolePolicy",
        summary="Replace a role's trust policy",
        description="IAM's UpdateAssumeRolePolicy, validated first. Sessions already issued keep running until "
        "they expire.",
        parameters=[ROLE_NAME],
        request=UpdateTrustPolicySerializer,
        responses={200: RoleDetailSerializer, **error_responses(400, 401, 403, 404)},
        tags=[IAM_TAG],
    )
    def put(self, request, role_name: str):
        self.authorize("iam:UpdateAssumeRolePolicy", resource_arn=self._role_arn(role_name))
        role = self._role(role_name)
        given = UpdateTrustPolicySerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            services.update_trust_policy(
                role=role, document=given.validated_data["policy_document"], actor=self.actor, context=self.context
            )
        except services.PolicyInvalid as exc:
            raise _invalid("policyDocument", str(exc), "policy_invalid") from None
        return Response(RoleDetailSerializer(role).data)


class _RoleAttachments(_Attachments):
    holder_kind = "role"
    list_action, attach_action, detach_action = (
        "iam:ListAttachedRolePolicies",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
    )


class RolePolicies(_RoleAttachments):
    @extend_schema(
        operation_id="listAttachedRolePolicies",
        summary="List the policies attached to a role",
        description="IAM's ListAttachedRolePolicies.",
        parameters=[ROLE_NAME],
        responses={200: AttachedPolicyListSerializer, **error_responses(401, 403, 404)},
        tags=[IAM_TAG],
    )
    def get(self, request, role_name: str):
        return self._list(role_name)

    @extend_schema(
        operation_id="attachRolePolicy",
        summary="Attach a policy to a role",
        description="IAM's AttachRolePolicy: what the role's sessions may do.",
        parameters=[ROLE_NAME],
        request=AttachPolicySerializer,
        responses={201: AttachedPolicyListSerializer, **error_responses(400, 401, 403, 404)},
        tags=[IAM_TAG],
    )
    def post(self, request, role_name: str):
        return self._attach(request, role_name)


class RolePolicyDetail(_RoleAttachments):
    @extend_schema(
        operation_id="detachRolePolicy",
        summary="Detach a policy from a role",
        description="IAM's DetachRolePolicy; the policy by ARN or name.",
        parameters=[ROLE_NAME, POLICY_REFERENCE],
        responses={204: None, **error_responses(400, 401, 403, 404)},
        tags=[IAM_TAG],
    )
    def delete(self, request, role_name: str, policy: str):
        return self._detach(role_name, policy)


# -- STS --------------------------------------------------------------------------------


class AssumeRole(AccountScopedView):
    @extend_schema(
        operation_id="assumeRole",
        summary="Assume a role: temporary credentials",
        description="STS AssumeRole. The role's trust policy must name the caller (a trust policy naming an "
        "account lets that account's principals in as far as their own policies allow sts:AssumeRole; a caller "
        "of another account always needs that). `duration_seconds` is 900 up to the role's maximum (a role "
        "session assuming a role: at most 3600). Use the credentials as HTTP Basic (key id and secret) with the "
        "session token in `X-Berth-Security-Token`, or at the registry as `docker login -u <key id> -p <session "
        "token>`. The secret is in this response only.",
        request=AssumeRoleSerializer,
        responses={200: AssumeRoleResponseSerializer, **error_responses(400, 401, 403)},
        tags=[STS_TAG],
    )
    def post(self, request):
        given = AssumeRoleSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        caller = self.caller
        # The trust policy decides, not the identity policies alone: services.assume_role evaluates both.
        draft = self.begin_event(
            "sts:AssumeRole",
            recipient_account_id="",
            roleArn=data["role_arn"],
            roleSessionName=data["role_session_name"],
            durationSeconds=data["duration_seconds"],
        )
        try:
            assumed = services.assume_role(
                caller=caller,
                role_arn=data["role_arn"],
                session_name=data["role_session_name"],
                duration_seconds=data["duration_seconds"],
                source_ip=client_ip(request) or None,
                secure_transport=request.is_secure(),
                context=self.context,
            )
        except policy.ArnError as exc:
            raise _invalid("roleArn", str(exc)) from None
        except services.NameInvalid as exc:
            raise _invalid("roleSessionName", str(exc)) from None
        except services.SessionDurationInvalid as exc:
            raise _invalid("durationSeconds", str(exc)) from None
        except services.AssumeRoleRefused as exc:
            draft.refuse(str(exc))
            raise exceptions.PermissionDenied(str(exc), code="access_denied") from None
        body = {
            "credentials": {
                "access_key_id": assumed.session.access_key_id,
                "secret_access_key": assumed.secret_access_key,
                "session_token": assumed.session_token,
                "expiration": assumed.expires_at,
            },
            "assumed_role_user": {
                "arn": assumed.arn,
                "assumed_role_id": assumed.session.assumed_role_id,
            },
        }
        response = Response(AssumeRoleResponseSerializer(body).data)
        response["Cache-Control"] = "no-store"
        return response


class CallerIdentity(AccountScopedView):
    @extend_schema(
        operation_id="getCallerIdentity",
        summary="Who am I",
        description="STS GetCallerIdentity: the account, ARN and user id of the credentials that signed the request. "
        "Needs no permission (an explicit Deny does not refuse it either), as in AWS.",
        responses={200: CallerIdentitySerializer, **error_responses(401, 403)},
        tags=[STS_TAG],
    )
    def get(self, request):
        caller = self.caller
        # As in AWS, no policy can refuse a caller its own identity: the call is only recorded.
        self.begin_event("sts:GetCallerIdentity", recipient_account_id=caller.account_id)
        identity = selectors.caller_identity(caller, request.auth if caller.is_role_session else None)
        body = {"account": identity.account, "arn": identity.arn, "user_id": identity.user_id}
        return Response(CallerIdentitySerializer(body).data)


# -- the simulator ----------------------------------------------------------------------

_DECISIONS = {
    policy.Reason.ALLOW: "allowed",
    policy.Reason.EXPLICIT_DENY: "explicit_deny",
    policy.Reason.IMPLICIT_DENY: "implicit_deny",
}


class Simulate(_IamView):
    @extend_schema(
        operation_id="simulatePrincipalPolicy",
        summary="May this principal do these actions on this resource?",
        description="IAM's SimulatePrincipalPolicy for a principal of your account (its root, a user, a role or "
        "a role session, by ARN): each action's decision (`allowed`, `explicit_deny`, `implicit_deny`), the "
        "statements that decided it, and why. A repository of your account brings its repository policy and "
        "resource tags; `source_ip` and `context` fill condition keys.",
        request=SimulateSerializer,
        responses={200: SimulationSerializer, **error_responses(400, 401, 403)},
        tags=[IAM_TAG],
    )
    def post(self, request):
        given = SimulateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            simulated = selectors.simulation_principal(self.account, data["principal_arn"])
        except selectors.SimulationInvalid as exc:
            raise BadRequest(str(exc), code="simulation_invalid") from None
        self.authorize("iam:SimulatePrincipalPolicy", resource_arn=data["principal_arn"])
        try:
            decisions = selectors.simulate_principal_policy(
                self.account,
                simulated=simulated,
                actions=data["actions"],
                resource_arn=data["resource_arn"],
                source_ip=data["source_ip"],
                context=data["context"],
            )
        except selectors.SimulationInvalid as exc:
            raise BadRequest(str(exc), code="simulation_invalid") from None
        results = [
            {
                "action": action,
                "decision": _DECISIONS[decision.reason],
                "matched_statements": [
                    {"policy": ref.policy, "sid": ref.sid, "index": ref.index + 1} for ref in decision.statements
                ],
                "explanation": decision.explanation,
            }
            for action, decision in decisions
        ]
        body = {"principal_arn": data["principal_arn"], "resource_arn": data["resource_arn"], "results": results}
        return Response(SimulationSerializer(body).data)

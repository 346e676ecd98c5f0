"""The console's IAM pages: the account's users, roles and managed policies
(section "iam"), and the signed-in user's own access keys and login passwords
(section "access-keys").

Every operation is the management API's (apps/api/iam/views.py,
apps/api/accounts/views.py): the same ``authorize`` action on the same resource ARN,
then the same service, which records the audit event. Reads authorize too (a
page's main read with ``authorize``; the further lists it shows with ``allowed``,
so a user who may see a user but not its keys sees the page and is told which
permission the keys need).

A secret (an access key's, a login password) is shown once: the write keeps it,
sealed (apps.kernel.sealing), in the session for the page it redirects to, whose
next GET takes it out (a secret the redirect never reached is dropped after ten
minutes). A reload shows nothing more; the page is sent with no-store."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.password_validation import ValidationError as PasswordInvalid
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path

from apps.accounts import selectors as account_selectors
from apps.accounts import services as account_services
from apps.accounts.authentication import LOGIN_PASSWORD_USERNAMES
from apps.accounts.models import AccessKey, AccessKeyStatus
from apps.iam import policy, selectors, services
from apps.iam.models import ManagedPolicy, PolicyAttachment, Role
from apps.kernel import sealing
from apps.kernel.arn import account_root_arn

from . import iam_forms
from .base import ConsoleView

# -- secrets shown once ------------------------------------------------------------

_SECRET_KEY = "console.secret_once"
# A secret the redirect did not reach (a closed tab) is dropped after this long.
_SECRET_SECONDS = 600


def _keep_secret(request, page: str, *, secret: str, **shown) -> None:
    """Keep ``secret`` (sealed: the session row holds no secret in the clear) and
    what is shown with it for the next GET of ``page``."""
    request.session[_SECRET_KEY] = {"page": page, "at": time.time(), "sealed": sealing.seal(secret), **shown}


def _take_secret(request, page: str) -> dict | None:
    """The secret kept for ``page``, taken out of the session (a reload: none). A
    secret kept for another page stays for that page."""
    kept = request.session.get(_SECRET_KEY)
    if not kept or kept.get("page") != page:
        return None
    del request.session[_SECRET_KEY]
    if time.time() - kept.get("at", 0) > _SECRET_SECONDS:
        return None
    try:
        kept["secret"] = sealing.unseal(kept.pop("sealed"))
    except (KeyError, sealing.SealedValueUnreadable):
        return None
    return kept


def _no_store(response):
    """A page that may show a secret is kept by no cache (the browser's back button included)."""
    response["Cache-Control"] = "no-store"
    return response


def _key_secret(new_key: account_services.NewAccessKey) -> dict:
    return {"kind": "access-key", "access_key_id": new_key.access_key.access_key_id, "secret": new_key.secret}


# -- shared ---------------------------------------------------------------------------

BUILTIN_AWS_NAMES = {berth: aws for aws, berth in selectors.AWS_POLICY_SYNONYMS.items()}


def _page_of_user(name: str) -> str:
    return f"/console/iam/users/{name}"


def _page_of_role(name: str) -> str:
    return f"/console/iam/roles/{name}"


def _page_of_policy(name: str) -> str:
    return f"/console/iam/policies/{name}"


class _IamPage(ConsoleView):
    section = "iam"

    def user_arn(self, name: str) -> str:
        return selectors.user_arn(self.account, name)

    def role_arn(self, name: str) -> str:
        """The role's ARN with its path; the ARN it would have, for one not (yet) there (as the API)."""
        role = selectors.role_of(self.account, name)
        if role is not None:
            return role.arn
        return policy.role_arn(self.account.pk, name, partition=settings.BERTH_ARN_PARTITION)

    def policy_choices(self, policies) -> list[tuple[str, str]]:
        return [(p.arn, f"{p.name} (built into Berth)" if p.is_builtin else p.name) for p in policies if not p.attached]

    def visible_policies(self, **holder):
        """Berth's built-ins and the account's own, each marked whether it is attached
        to ``user`` or ``role`` (one query: the attached list and the select's choices)."""
        attached = PolicyAttachment.objects.filter(policy=OuterRef("pk"), **holder)
        return list(selectors.policies_visible_to(self.account).annotate(attached=Exists(attached)))

    def attachment_form(self, action: str, holder_arn: str, data, **holder):
        """Attach (``policy_arn`` one of the choices) or detach (an attached one) for
        a user or a role: (form, policy) where policy is None when the form is invalid."""
        policies = self.visible_policies(**holder)
        choices = (
            self.policy_choices(policies) if action == "attach" else [(p.arn, p.name) for p in policies if p.attached]
        )
        form = iam_forms.AttachPolicyForm(data, choices=choices)
        if not form.is_valid():
            return form, None
        chosen = form.cleaned_data["policy_arn"]
        return form, next(p for p in policies if p.arn == chosen)


# -- users ----------------------------------------------------------------------------


class UsersPage(_IamPage):
    template_name = "console/iam/users.html"

    def get(self, request):
        self.authorize("iam:ListUsers")
        return self.page(iam_forms.CreateUserForm())

    def page(self, form, *, status: int = 200):
        users = list(
            selectors.users_of(self.account).annotate(
                policy_count=Count("policy_attachments", distinct=True),
                key_count=Count("access_keys", distinct=True),
                active_key_count=Count(
                    "access_keys", filter=Q(access_keys__status=AccessKeyStatus.ACTIVE), distinct=True
                ),
                key_last_used=Max("access_keys__last_used_at"),
            )
        )
        for user in users:
            used = [moment for moment in (user.last_login, user.key_last_used) if moment is not None]
            user.last_activity = max(used) if used else None
        context = {
            "users": users,
            "form": form,
            "may_create": self.allowed("iam:CreateUser", resource_arn=self.user_arn("*")),
        }
        return self.render(context, status=status)

    def post(self, request):
        form = iam_forms.CreateUserForm(request.POST)
        if not form.is_valid():
            self.authorize("iam:ListUsers")
            return self.page(form, status=400)
        name = form.cleaned_data["user_name"]
        self.authorize("iam:CreateUser", resource_arn=self.user_arn(name), userName=name)
        try:
            services.create_user(
                account=self.account,
                username=name,
                password=form.cleaned_data["password"],
                actor=self.actor,
                context=self.context,
            )
        except (services.NameInvalid, services.NameTaken) as error:
            form.add_error("user_name", str(error))
        except PasswordInvalid as error:
            form.add_error("password", list(error.messages))
        if form.errors:
            return self.page(form, status=400)
        self.done(f"User {name} created. Attach a policy to let it do something.")
        return redirect(_page_of_user(name))


class UserPage(_IamPage):
    template_name = "console/iam/user.html"

    def user_named(self, name: str):
        user = selectors.user_of(self.account, name)
        if user is None:
            raise Http404(f"Account {self.account.pk} has no user {name[:64]}.")
        return user

    def get(self, request, user_name: str):
        self.authorize("iam:GetUser", resource_arn=self.user_arn(user_name))
        user = self.user_named(user_name)
        return _no_store(self.page(user, secret=_take_secret(request, _page_of_user(user_name))))

    def page(
        self,
        user,
        *,
        status: int = 200,
        secret=None,
        attach_form=None,
        detach_error="",
        key_error="",
        delete_form=None,
        page_error="",
    ):
        name = user.membership.user_name
        arn = self.user_arn(name)
        may = {
            action: self.allowed(f"iam:{action}", resource_arn=arn)
            for action in (
                "ListAttachedUserPolicies",
                "AttachUserPolicy",
                "DetachUserPolicy",
                "ListAccessKeys",
                "CreateAccessKey",
                "UpdateAccessKey",
                "DeleteAccessKey",
                "DeleteUser",
            )
        }
        policies = self.visible_policies(user=user) if may["ListAttachedUserPolicies"] else []
        keys = list(account_selectors.access_keys_of(user)) if may["ListAccessKeys"] else []
        context = {
            "iam_user": user,
            "user_name": name,
            # The root user is named in policies by its account's root ARN.
            "arn": account_root_arn(self.account.pk, partition=settings.BERTH_ARN_PARTITION)
            if hasattr(user, "iam_root")
            else arn,
            "is_root": hasattr(user, "iam_root"),
            "may": may,
            "attached": [p for p in policies if p.attached],
            "attach_form": attach_form or iam_forms.AttachPolicyForm(choices=self.policy_choices(policies)),
            "detach_error": detach_error,
            "keys": keys,
            "key_error": key_error,
            "page_error": page_error,
            "secret": secret,
            "delete_form": delete_form or iam_forms.ConfirmForm(word=name),
            "sign_in_name": f"{self.primary_alias}/{name}",
        }
        return self.render(context, status=status)

    def post(self, request, user_name: str):
        action = request.POST.get("action", "")
        handler = {
            "attach": self.attach,
            "detach": self.detach,
            "create-key": self.create_key,
            "activate-key": self.update_key,
            "deactivate-key": self.update_key,
            "delete-key": self.delete_key,
            "delete-user": self.delete_user,
        }.get(action)
        if handler is None:
            self.authorize("iam:GetUser", resource_arn=self.user_arn(user_name))
            return self.page(self.user_named(user_name), status=400, key_error=f"Unknown action {action[:40]!r}.")
        return handler(request, user_name, action)

    def attach(self, request, user_name: str, action: str):
        arn = self.user_arn(user_name)
        self.authorize("iam:AttachUserPolicy", resource_arn=arn, policyArn=request.POST.get("policy_arn", "")[:2048])
        user = self.user_named(user_name)
        form, chosen = self.attachment_form("attach", arn, request.POST, user=user)
        if chosen is None:
            return self.page(user, status=400, attach_form=form)
        try:
            services.attach_policy(
                account=self.account, managed_policy=chosen, user=user, actor=self.actor, context=self.context
            )
        except services.AttachmentRefused as error:
            form.add_error("policy_arn", str(error))
            return self.page(user, status=400, attach_form=form)
        self.done(f"Policy {chosen.name} attached to {user_name}.")
        return redirect(_page_of_user(user_name))

    def detach(self, request, user_name: str, action: str):
        arn = self.user_arn(user_name)
        self.authorize("iam:DetachUserPolicy", resource_arn=arn, policyArn=request.POST.get("policy_arn", "")[:2048])
        user = self.user_named(user_name)
        form, chosen = self.attachment_form("detach", arn, request.POST, user=user)
        if chosen is None:
            return self.page(user, status=400, detach_error="That policy is not attached to this user.")
        services.detach_policy(managed_policy=chosen, user=user, actor=self.actor, context=self.context)
        self.done(f"Policy {chosen.name} detached from {user_name}.")
        return redirect(_page_of_user(user_name))

    def create_key(self, request, user_name: str, action: str):
        self.authorize("iam:CreateAccessKey", resource_arn=self.user_arn(user_name))
        user = self.user_named(user_name)
        try:
            new_key = account_services.create_access_key(user=user, actor=self.actor, context=self.context)
        except account_services.AccessKeyLimitExceeded as error:
            return self.page(user, status=409, key_error=str(error))
        _keep_secret(request, _page_of_user(user_name), user_name=user_name, **_key_secret(new_key))
        return redirect(_page_of_user(user_name))

    def key_named(self, user, request) -> AccessKey:
        key_id = request.POST.get("access_key_id", "")
        found = account_selectors.access_key_of(user, key_id)
        if found is None:
            raise Http404(f"User {user.membership.user_name} has no access key {key_id[:40]}.")
        return found

    def update_key(self, request, user_name: str, action: str):
        status = AccessKeyStatus.ACTIVE if action == "activate-key" else AccessKeyStatus.INACTIVE
        user = self.user_named(user_name)
        key = self.key_named(user, request)
        self.authorize(
            "iam:UpdateAccessKey",
            resource_arn=self.user_arn(user_name),
            accessKeyId=key.access_key_id,
            status=status.value,
        )
        error = _update_key(self, key, status)
        if error:
            return self.page(user, status=409, key_error=error)
        self.done(f"Access key {key.access_key_id} is now {status.label.lower()}.")
        return redirect(_page_of_user(user_name))

    def delete_key(self, request, user_name: str, action: str):
        user = self.user_named(user_name)
        key = self.key_named(user, request)
        self.authorize("iam:DeleteAccessKey", resource_arn=self.user_arn(user_name), accessKeyId=key.access_key_id)
        confirm = iam_forms.ConfirmForm(request.POST, word=key.access_key_id)
        if not confirm.is_valid():
            return self.page(user, status=400, key_error=f"Type {key.access_key_id} to delete that key.")
        account_services.delete_access_key(access_key=key, actor=self.actor, context=self.context)
        self.done(f"Access key {key.access_key_id} deleted.")
        return redirect(_page_of_user(user_name))

    def delete_user(self, request, user_name: str, action: str):
        self.authorize("iam:DeleteUser", resource_arn=self.user_arn(user_name))
        user = self.user_named(user_name)
        form = iam_forms.ConfirmForm(request.POST, word=user_name)
        if form.is_valid():
            try:
                services.delete_user(user=user, actor=self.actor, context=self.context)
            except services.UserNotDeletable as error:
                return self.page(user, status=409, page_error=str(error))
            self.done(f"User {user_name} deleted, with its access keys and policy attachments.")
            return redirect("/console/iam/users")
        return self.page(user, status=400, delete_form=form)


def _update_key(view: ConsoleView, key: AccessKey, status: AccessKeyStatus) -> str:
    """UpdateAccessKey through its service; the refusal's message, if any."""
    if status == AccessKeyStatus.ACTIVE:
        try:
            account_services.activate_access_key(access_key=key, actor=view.actor, context=view.context)
        except account_services.AccessKeyLimitExceeded as error:
            return str(error)
    else:
        account_services.deactivate_access_key(access_key=key, actor=view.actor, context=view.context)
    return ""


# -- roles ----------------------------------------------------------------------------


class RolesPage(_IamPage):
    template_name = "console/iam/roles.html"

    def get(self, request):
        self.authorize("iam:ListRoles")
        initial = {
            "trust_policy": iam_forms.template_text(
                iam_forms.TRUST_POLICY_TEMPLATE, account_id=self.account.pk, partition=settings.BERTH_ARN_PARTITION
            )
        }
        return self.page(iam_forms.CreateRoleForm(initial=initial))

    def page(self, form, *, status: int = 200):
        roles = selectors.roles_of(self.account).annotate(policy_count=Count("policy_attachments"))
        context = {
            "roles": roles,
            "form": form,
            "may_create": self.allowed(
                "iam:CreateRole",
                resource_arn=policy.role_arn(self.account.pk, "*", partition=settings.BERTH_ARN_PARTITION),
            ),
        }
        return self.render(context, status=status)

    def post(self, request):
        form = iam_forms.CreateRoleForm(request.POST)
        if not form.is_valid():
            self.authorize("iam:ListRoles")
            return self.page(form, status=400)
        data = form.cleaned_data
        name = data["role_name"]
        self.authorize("iam:CreateRole", resource_arn=self.role_arn(name), roleName=name)
        try:
            services.create_role(
                account=self.account,
                name=name,
                trust_policy=data["trust_policy"],
                description=data["description"],
                max_session_duration=data["max_session_duration"],
                actor=self.actor,
                context=self.context,
            )
        except services.PolicyInvalid as error:
            form.add_error("trust_policy", str(error))
        except (services.NameInvalid, services.NameTaken) as error:
            form.add_error("role_name", str(error))
        except services.SessionDurationInvalid as error:
            form.add_error("max_session_duration", str(error))
        if form.errors:
            return self.page(form, status=400)
        self.done(f"Role {name} created. Attach a policy to say what its sessions may do.")
        return redirect(_page_of_role(name))


class RolePage(_IamPage):
    template_name = "console/iam/role.html"

    def role_named(self, name: str) -> Role:
        role = selectors.role_of(self.account, name)
        if role is None:
            raise Http404(f"Account {self.account.pk} has no role {name[:64]}.")
        return role

    def get(self, request, role_name: str):
        role = self.role_named(role_name)
        self.authorize("iam:GetRole", resource_arn=role.arn)
        return self.page(role)

    def page(
        self, role: Role, *, status: int = 200, trust_form=None, attach_form=None, detach_error="", delete_form=None
    ):
        may = {
            action: self.allowed(f"iam:{action}", resource_arn=role.arn)
            for action in (
                "ListAttachedRolePolicies",
                "AttachRolePolicy",
                "DetachRolePolicy",
                "UpdateAssumeRolePolicy",
                "DeleteRole",
            )
        }
        policies = self.visible_policies(role=role) if may["ListAttachedRolePolicies"] else []
        context = {
            "role": role,
            "may": may,
            "attached": [p for p in policies if p.attached],
            "attach_form": attach_form or iam_forms.AttachPolicyForm(choices=self.policy_choices(policies)),
            "detach_error": detach_error,
            "trust_form": trust_form or iam_forms.TrustPolicyForm(initial={"trust_policy": role.trust_policy}),
            "delete_form": delete_form or iam_forms.ConfirmForm(word=role.name),
        }
        return self.render(context, status=status)

    def post(self, request, role_name: str):
        action = request.POST.get("action", "")
        handler = {
            "attach": self.attach,
            "detach": self.detach,
            "trust-policy": self.update_trust_policy,
            "delete-role": self.delete_role,
        }.get(action)
        role = self.role_named(role_name)
        if handler is None:
            self.authorize("iam:GetRole", resource_arn=role.arn)
            return self.page(role, status=400, detach_error=f"Unknown action {action[:40]!r}.")
        return handler(request, role)

    def attach(self, request, role: Role):
        self.authorize(
            "iam:AttachRolePolicy", resource_arn=role.arn, policyArn=request.POST.get("policy_arn", "")[:2048]
        )
        form, chosen = self.attachment_form("attach", role.arn, request.POST, role=role)
        if chosen is None:
            return self.page(role, status=400, attach_form=form)
        try:
            services.attach_policy(
                account=self.account, managed_policy=chosen, role=role, actor=self.actor, context=self.context
            )
        except services.AttachmentRefused as error:
            form.add_error("policy_arn", str(error))
            return self.page(role, status=400, attach_form=form)
        self.done(f"Policy {chosen.name} attached to role {role.name}.")
        return redirect(_page_of_role(role.name))

    def detach(self, request, role: Role):
        self.authorize(
            "iam:DetachRolePolicy", resource_arn=role.arn, policyArn=request.POST.get("policy_arn", "")[:2048]
        )
        form, chosen = self.attachment_form("detach", role.arn, request.POST, role=role)
        if chosen is None:
            return self.page(role, status=400, detach_error="That policy is not attached to this role.")
        services.detach_policy(managed_policy=chosen, role=role, actor=self.actor, context=self.context)
        self.done(f"Policy {chosen.name} detached from role {role.name}.")
        return redirect(_page_of_role(role.name))

    def update_trust_policy(self, request, role: Role):
        self.authorize("iam:UpdateAssumeRolePolicy", resource_arn=role.arn)
        form = iam_forms.TrustPolicyForm(request.POST)
        if form.is_valid():
            try:
                services.update_trust_policy(
                    role=role, document=form.cleaned_data["trust_policy"], actor=self.actor, context=self.context
                )
            except services.PolicyInvalid as error:
                form.add_error("trust_policy", str(error))
        if form.errors:
            role.refresh_from_db(fields=["trust_policy"])
            return self.page(role, status=400, trust_form=form)
        self.done(f"The trust policy of role {role.name} is replaced.")
        return redirect(_page_of_role(role.name))

    def delete_role(self, request, role: Role):
        self.authorize("iam:DeleteRole", resource_arn=role.arn)
        form = iam_forms.ConfirmForm(request.POST, word=role.name)
        if not form.is_valid():
            return self.page(role, status=400, delete_form=form)
        services.delete_role(role=role, actor=self.actor, context=self.context)
        self.done(f"Role {role.name} deleted; its sessions ended.")
        return redirect("/console/iam/roles")


# -- managed policies -----------------------------------------------------------------


def _attached_in_account(account) -> Q:
    """Attachments to the account's users and roles (a built-in policy is attached
    in many accounts; a page counts only its own)."""
    return Q(attachments__user__membership__account=account) | Q(attachments__role__account=account)


class PoliciesPage(_IamPage):
    template_name = "console/iam/policies.html"

    def get(self, request):
        self.authorize("iam:ListPolicies")
        initial = {
            "document": iam_forms.template_text(
                iam_forms.POLICY_TEMPLATE, account_id=self.account.pk, partition=settings.BERTH_ARN_PARTITION
            )
        }
        source = None
        if request.GET.get("from"):
            source = selectors.policy_named(self.account, request.GET["from"][:128])
            if source is not None:
                initial = {
                    "policy_name": f"{source.name}-2"[:128],
                    "description": source.description,
                    "document": source.document,
                }
        return self.page(iam_forms.CreatePolicyForm(initial=initial), copied=source)

    def page(self, form, *, status: int = 200, copied: ManagedPolicy | None = None):
        policies = list(
            selectors.policies_visible_to(self.account).annotate(
                attachment_count=Count("attachments", filter=_attached_in_account(self.account), distinct=True)
            )
        )
        for managed_policy in policies:
            managed_policy.aws_name = (
                BUILTIN_AWS_NAMES.get(managed_policy.name, "") if managed_policy.is_builtin else ""
            )
        context = {
            "builtin_policies": [p for p in policies if p.is_builtin],
            "own_policies": [p for p in policies if not p.is_builtin],
            "form": form,
            "copied": copied,
            "may_create": self.allowed(
                "iam:CreatePolicy",
                resource_arn=f"arn:{settings.BERTH_ARN_PARTITION}:iam::{self.account.pk}:policy/*",
            ),
        }
        return self.render(context, status=status)

    def post(self, request):
        form = iam_forms.CreatePolicyForm(request.POST)
        if not form.is_valid():
            self.authorize("iam:ListPolicies")
            return self.page(form, status=400)
        data = form.cleaned_data
        name = data["policy_name"]
        arn = f"arn:{settings.BERTH_ARN_PARTITION}:iam::{self.account.pk}:policy/{name}"
        self.authorize("iam:CreatePolicy", resource_arn=arn, policyName=name)
        try:
            services.create_policy(
                account=self.account,
                name=name,
                document=data["document"],
                description=data["description"],
                actor=self.actor,
                context=self.context,
            )
        except services.PolicyInvalid as error:
            form.add_error("document", str(error))
        except (services.NameInvalid, services.NameTaken) as error:
            form.add_error("policy_name", str(error))
        if form.errors:
            return self.page(form, status=400)
        self.done(f"Policy {name} created. Attach it to users or roles.")
        return redirect(_page_of_policy(name))


class PolicyPage(_IamPage):
    template_name = "console/iam/policy.html"

    def policy_named(self, name: str) -> ManagedPolicy:
        found = selectors.policy_named(self.account, name)
        if found is None:
            raise Http404(f"There is no policy {name[:128]} in account {self.account.pk} nor built into Berth.")
        return found

    def get(self, request, policy_name: str):
        managed_policy = self.policy_named(policy_name)
        self.authorize("iam:GetPolicy", resource_arn=managed_policy.arn)
        return self.page(managed_policy)

    def page(self, managed_policy: ManagedPolicy, *, status: int = 200, delete_form=None, delete_error=""):
        attachments = list(
            PolicyAttachment.objects.filter(policy=managed_policy)
            .filter(Q(user__membership__account=self.account) | Q(role__account=self.account))
            .select_related("user__membership", "role")
            .order_by("role_id", "user__membership__user_name", "role__name")
        )
        context = {
            "policy": managed_policy,
            "aws_name": BUILTIN_AWS_NAMES.get(managed_policy.name, "") if managed_policy.is_builtin else "",
            "attached_users": [a.user.membership.user_name for a in attachments if a.user_id],
            "attached_roles": [a.role.name for a in attachments if a.role_id],
            "may_delete": not managed_policy.is_builtin
            and self.allowed("iam:DeletePolicy", resource_arn=managed_policy.arn),
            "delete_form": delete_form or iam_forms.ConfirmForm(word=managed_policy.name),
            "delete_error": delete_error,
        }
        return self.render(context, status=status)

    def post(self, request, policy_name: str):
        managed_policy = self.policy_named(policy_name)
        self.authorize("iam:DeletePolicy", resource_arn=managed_policy.arn)
        if request.POST.get("action") != "delete-policy":
            return self.page(managed_policy, status=400, delete_error="Only deleting a policy is done here.")
        form = iam_forms.ConfirmForm(request.POST, word=managed_policy.name)
        if not form.is_valid():
            return self.page(managed_policy, status=400, delete_form=form)
        try:
            services.delete_policy(managed_policy=managed_policy, actor=self.actor, context=self.context)
        except (services.PolicyInUse, services.AttachmentRefused) as error:
            return self.page(managed_policy, status=409, delete_error=str(error))
        self.done(f"Policy {managed_policy.name} deleted.")
        return redirect("/console/iam/policies")


# -- the signed-in user's own credentials -------------------------------------------

OWN_KEYS_PAGE = "/console/iam/access-keys"


class AccessKeysPage(ConsoleView):
    """The signed-in user's access keys (root included), as the API's own-credential
    endpoints: iam:*AccessKey* on the caller's own ARN; and login passwords for
    `docker login` (ecr:GetAuthorizationToken)."""

    section = "access-keys"
    template_name = "console/iam/access_keys.html"

    def get(self, request):
        self.authorize("iam:ListAccessKeys", resource_arn=self.caller.arn)
        secret = _take_secret(request, OWN_KEYS_PAGE)
        if secret and secret.get("kind") == "login-password":
            secret["expires"] = datetime.fromtimestamp(secret["expires_at"], tz=UTC)
        return _no_store(self.page(secret=secret))

    def page(self, *, status: int = 200, secret=None, error: str = ""):
        arn = self.caller.arn
        context = {
            "keys": list(account_selectors.access_keys_of(self.request.user)),
            "caller_arn": arn,
            "user_name": account_selectors.user_name_of(self.request.user),
            "is_root": self.caller.is_root,
            "secret": secret,
            "error": error,
            "may": {
                "create": self.allowed("iam:CreateAccessKey", resource_arn=arn),
                "update": self.allowed("iam:UpdateAccessKey", resource_arn=arn),
                "delete": self.allowed("iam:DeleteAccessKey", resource_arn=arn),
                "login_password": self.allowed("ecr:GetAuthorizationToken"),
            },
            "login_username": LOGIN_PASSWORD_USERNAMES[0],
            "login_password_hours": settings.BERTH_LOGIN_PASSWORD_TTL // 3600,
            "endpoint": settings.BERTH_PUBLIC_URL or f"{self.request.scheme}://{self.request.get_host()}",
        }
        return self.render(context, status=status)

    def post(self, request):
        action = request.POST.get("action", "")
        if action == "create":
            return self.create(request)
        if action in ("activate", "deactivate"):
            return self.update(request, action)
        if action == "delete":
            return self.delete(request)
        if action == "login-password":
            return self.login_password(request)
        self.authorize("iam:ListAccessKeys", resource_arn=self.caller.arn)
        return self.page(status=400, error=f"Unknown action {action[:40]!r}.")

    def create(self, request):
        self.authorize("iam:CreateAccessKey", resource_arn=self.caller.arn)
        try:
            new_key = account_services.create_access_key(user=request.user, actor=self.actor, context=self.context)
        except account_services.AccessKeyLimitExceeded as error:
            return self.page(status=409, error=str(error))
        _keep_secret(request, OWN_KEYS_PAGE, **_key_secret(new_key))
        return redirect(OWN_KEYS_PAGE)

    def own_key(self, request) -> AccessKey:
        key_id = request.POST.get("access_key_id", "")
        found = account_selectors.access_key_of(request.user, key_id)
        if found is None:
            raise Http404(f"You have no access key {key_id[:40]}.")
        return found

    def update(self, request, action: str):
        key = self.own_key(request)
        status = AccessKeyStatus.ACTIVE if action == "activate" else AccessKeyStatus.INACTIVE
        self.authorize(
            "iam:UpdateAccessKey", resource_arn=self.caller.arn, accessKeyId=key.access_key_id, status=status.value
        )
        error = _update_key(self, key, status)
        if error:
            return self.page(status=409, error=error)
        self.done(f"Access key {key.access_key_id} is now {status.label.lower()}.")
        return redirect(OWN_KEYS_PAGE)

    def delete(self, request):
        key = self.own_key(request)
        self.authorize("iam:DeleteAccessKey", resource_arn=self.caller.arn, accessKeyId=key.access_key_id)
        if not iam_forms.ConfirmForm(request.POST, word=key.access_key_id).is_valid():
            return self.page(status=400, error=f"Type {key.access_key_id} to delete that key.")
        account_services.delete_access_key(access_key=key, actor=self.actor, context=self.context)
        self.done(f"Access key {key.access_key_id} deleted. Programs that used it are refused from now on.")
        return redirect(OWN_KEYS_PAGE)

    def login_password(self, request):
        self.authorize("ecr:GetAuthorizationToken")
        issued = account_services.create_login_password(user=request.user)
        _keep_secret(
            request,
            OWN_KEYS_PAGE,
            kind="login-password",
            username=LOGIN_PASSWORD_USERNAMES[0],
            secret=issued.password,
            expires_at=issued.expires_at,
        )
        return redirect(OWN_KEYS_PAGE)


urlpatterns = [
    path("/iam/users", UsersPage.as_view(), name="iam-users"),
    path("/iam/users/<str:user_name>", UserPage.as_view(), name="iam-user"),
    path("/iam/roles", RolesPage.as_view(), name="iam-roles"),
    path("/iam/roles/<str:role_name>", RolePage.as_view(), name="iam-role"),
    path("/iam/policies", PoliciesPage.as_view(), name="iam-policies"),
    path("/iam/policies/<str:policy_name>", PolicyPage.as_view(), name="iam-policy"),
    path("/iam/access-keys", AccessKeysPage.as_view(), name="access-keys"),
]

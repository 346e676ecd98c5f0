"""The staff console for accounts: alias requests to decide (pending ones first,
oldest first, with what staff weigh: the account, its verified email, repositories
and pulls, and the names it could be mistaken for), reserved names, and accounts to
search, verify, suspend and reinstate. Every change goes through
apps.accounts.services, which records it in the audit trail with the staff member
as its actor (``staff_change``) and mails the owner what concerns it; the forms here
only ask staff for what the service needs (a reason)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Case, Value, When
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.timesince import timesince

from apps.audit.events import Actor
from apps.kernel.requests import request_context

from . import links, notices, quotas, selectors, services, staff_context
from .forms import StaffSignInForm
from .models import (
    Account,
    AccountQuota,
    Alias,
    AliasRequest,
    AliasRequestEvent,
    AliasRequestStatus,
    Membership,
    ReservedName,
)
from .similar_names import similar_names

# Its sign-in goes through the same throttle as the website's; the form says how long to wait.
admin.site.login_form = StaffSignInForm


def staff_change(request) -> dict:
    """Who makes the changes of a staff console request, and its circumstances,
    as a service takes them (``actor``, ``context``)."""
    return {"actor": Actor.staff(request.user.get_username()), "context": request_context(request)}


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 60}))

    def __init__(self, *args, required: bool, help_text: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = required
        self.fields["reason"].help_text = help_text


def ask_for_reason(
    modeladmin, request, queryset, *, action: str, title: str, required: bool, help_text: str, submit: str
):
    """The admin action's intermediate page: the reason, or None once it is given
    (then the action goes on with ``request.POST["reason"]``)."""
    if "apply" in request.POST:
        form = ReasonForm(request.POST, required=required, help_text=help_text)
        if form.is_valid():
            return None
    else:
        form = ReasonForm(required=required, help_text=help_text)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "objects": list(queryset),
        "form": form,
        "action": action,
        "submit_label": submit,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/accounts/reason_for_action.html", context)


class AliasInline(admin.TabularInline):
    model = Alias
    extra = 0
    can_delete = False  # aliases are never deleted: pulls through them must keep working
    # One primary alias per account: switched with the alias list's action, never by two checkboxes.
    readonly_fields = ("name", "is_default", "is_primary", "created_at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class MembershipInline(admin.TabularInline):
    """The account's users, by the names the account knows them by. Users join an
    account when it is made (its root) or through IAM's CreateUser, never here: an
    IAM user's stored username holds its account's id."""

    model = Membership
    extra = 0
    can_delete = False
    fields = readonly_fields = ("user_name", "created_at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = (
        "id", "name", "primary_alias", "display_name", "verified", "email_verified", "suspended", "created_at",
    )  # fmt: skip
    list_filter = (
        "verified",
        ("suspended_at", admin.EmptyFieldListFilter),
        ("email_verified_at", admin.EmptyFieldListFilter),
    )
    search_fields = (
        "=id", "name", "display_name", "aliases__name", "memberships__user__email", "memberships__user__username",
    )  # fmt: skip
    readonly_fields = (
        "id", "email_verified_at", "bio", "logo_digest", "figures", "suspended_at", "suspension_reason", "created_at",
    )  # fmt: skip
    fields = (
        "id", "name", "display_name", "bio", "logo_digest", "create_on_push", "verified", "email_verified_at",
        "figures", "suspended_at", "suspension_reason", "created_at",
    )  # fmt: skip
    inlines = [AliasInline, MembershipInline]
    actions = ["verify_publisher", "unverify_publisher", "suspend", "reinstate"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("aliases")

    def has_add_permission(self, request) -> bool:
        return False  # accounts are made by sign-up or `berth create_account`, with their id and default alias

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # suspend instead: deleting would take repositories and their images with it

    @admin.display(description="primary alias")
    def primary_alias(self, account: Account) -> str:
        return next((alias.name for alias in account.aliases.all() if alias.is_primary), "")

    # Words, not Django's boolean icons: a green tick would say a suspended account is fine.
    @admin.display(description="standing", ordering="suspended_at")
    def suspended(self, account: Account) -> str:
        if not account.is_suspended:
            return "active"
        return f"suspended since {account.suspended_at:%Y-%m-%d}"

    # A green tick for a verified email, a red cross for one not verified yet.
    @admin.display(description="email verified", boolean=True, ordering="email_verified_at")
    def email_verified(self, account: Account) -> bool:
        return account.email_verified

    @admin.display(description="repositories and pulls")
    def figures(self, account: Account) -> str:
        return "; ".join(staff_context.figures([account.pk])[account.pk]) or "—"

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        services.update_account(
            account=obj,
            name=data["name"],
            display_name=data["display_name"],
            create_on_push=data["create_on_push"],
            verified=data["verified"],
            site_url=links.site_url(request),
            **staff_change(request),
        )

    @admin.action(description="Verify the selected publishers (the gallery's verified badge)")
    def verify_publisher(self, request, queryset):
        for account in queryset:
            services.set_publisher_verified(
                account=account, verified=True, site_url=links.site_url(request), **staff_change(request)
            )
        self.message_user(request, f"{len(queryset)} publisher(s) verified")

    @admin.action(description="Remove the verified badge of the selected publishers")
    def unverify_publisher(self, request, queryset):
        for account in queryset:
            services.set_publisher_verified(
                account=account, verified=False, site_url=links.site_url(request), **staff_change(request)
            )
        self.message_user(request, f"{len(queryset)} publisher(s) no longer verified")

    @admin.action(description="Suspend the selected accounts…")
    def suspend(self, request, queryset):
        page = ask_for_reason(
            self, request, queryset, action="suspend", title="Suspend accounts", required=True,
            help_text="Kept with the account. Its credentials stop working at once and its public repositories "
            "leave the gallery until it is reinstated; nothing is deleted.",
            submit="Suspend",
        )  # fmt: skip
        if page is not None:
            return page
        for account in queryset:
            services.suspend_account(
                account=account, reason=request.POST["reason"], site_url=links.site_url(request),
                **staff_change(request),
            )  # fmt: skip
        self.message_user(request, f"{len(queryset)} account(s) suspended", messages.WARNING)
        return None

    @admin.action(description="Reinstate the selected accounts")
    def reinstate(self, request, queryset):
        for account in queryset:
            services.reinstate_account(account=account, site_url=links.site_url(request), **staff_change(request))
        self.message_user(request, f"{len(queryset)} account(s) reinstated")


@admin.register(AccountQuota)
class AccountQuotaAdmin(admin.ModelAdmin):
    """An account's quotas (docs/quotas.md): an empty field takes the deployment's
    default (BERTH_QUOTA_*), 0 is unlimited. Saved through
    services.set_account_quota, which records SetAccountQuota; never deleted
    (empty fields bring back the defaults, and the trail says so)."""

    list_display = ("account", "storage_bytes", "repositories", "images_per_repository", "in_force", "updated_at")
    search_fields = ("=account__id", "account__name", "account__aliases__name")
    autocomplete_fields = ("account",)
    fields = ("account", "storage_bytes", "repositories", "images_per_repository", "in_force", "updated_at")
    readonly_fields = ("in_force", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        return ("account", *self.readonly_fields) if obj is not None else self.readonly_fields

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="limits in force")
    def in_force(self, quota: AccountQuota) -> str:
        if not quota.account_id:
            return "—"
        limits = quotas.limits_of(quota.account_id)
        return "; ".join(
            f"{label}: {'unlimited' if limits.of(key) is None else limits.of(key)}"
            for key, label in quotas.LABELS.items()
        )

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        saved = services.set_account_quota(
            account=obj.account,
            storage_bytes=data["storage_bytes"],
            repositories=data["repositories"],
            images_per_repository=data["images_per_repository"],
            **staff_change(request),
        )
        obj.updated_at = saved.updated_at


@admin.register(Alias)
class AliasAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "is_primary", "is_default", "created_at")
    search_fields = ("name", "account__id", "account__name")
    raw_id_fields = ("account",)
    actions = ["make_primary"]

    def get_readonly_fields(self, request, obj=None):
        # Renaming or moving an alias would break every pull through it.
        return ("name", "account", "is_default", "is_primary") if obj else ("is_default", "is_primary")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        if not change:  # once made, every field of an alias is read only
            services.grant_alias(account=obj.account, name=obj.name, **staff_change(request))

    @admin.action(description="Make the selected alias its account's primary alias")
    def make_primary(self, request, queryset):
        chosen = list(queryset)
        if len({alias.account_id for alias in chosen}) != len(chosen):
            self.message_user(request, "choose at most one alias of each account", level=messages.ERROR)
            return
        for alias in chosen:
            services.set_primary_alias(alias=alias, **staff_change(request))
        self.message_user(request, f"{len(chosen)} alias(es) made primary")


class AliasRequestEventInline(admin.TabularInline):
    model = AliasRequestEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "kind", "actor_name", "reason")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AliasRequest)
class AliasRequestAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "status", "age", "created_at", "decided_at", "decision_reason")
    list_filter = ("status",)
    search_fields = ("name", "account__id", "account__name", "account__aliases__name")
    list_select_related = ("account",)
    # Pending requests first, oldest first: the queue staff work through.
    ordering = (Case(When(status=AliasRequestStatus.PENDING, then=Value(0)), default=Value(1)).asc(), "created_at")
    fields = readonly_fields = (
        "name", "warnings", "similar_names", "account", "account_context", "status", "requester", "created_at",
        "decided_at", "decided_by", "decision_reason",
    )  # fmt: skip
    inlines = [AliasRequestEventInline]
    actions = ["approve", "reject"]

    def has_add_permission(self, request) -> bool:
        return False  # account owners ask on their settings page

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the history of every request is kept

    @admin.display(description="requested by")
    def requester(self, alias_request: AliasRequest) -> str:
        requester = alias_request.requested_by
        if requester is None:
            return "—"
        name = selectors.user_name_of(requester)
        return f"{name} <{requester.email}>" if requester.email else name

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "requested_by__membership")

    @admin.display(description="warnings")
    def warnings(self, alias_request: AliasRequest) -> str:
        """What staff must not miss: the name reserved (since it was asked for) or
        already another account's, and an account whose email is unverified."""
        found = []
        reserved = services.reserved_error(alias_request.name, account=alias_request.account)
        if reserved:
            found.append(f"reserved: {reserved}")
        holder = Alias.objects.filter(name=alias_request.name).exclude(account_id=alias_request.account_id).first()
        if holder is not None:
            found.append(f"taken: already an alias of account {holder.account_id}")
        if not alias_request.account.email_verified:
            found.append("the account's email is not verified")
        if alias_request.account.is_suspended:
            found.append("the account is suspended")
        return "; ".join(found) or "none"

    @admin.display(description="looks like")
    def similar_names(self, alias_request: AliasRequest) -> str:
        found = similar_names(alias_request.name, account_id=alias_request.account_id)
        if not found:
            return "no taken or reserved name looks like it"
        return "; ".join(f"{name} ({what})" for name, what in found)

    @admin.display(description="the account")
    def account_context(self, alias_request: AliasRequest) -> str:
        """Who asks: the account's name, age, standing, badge and verified email, its
        repositories and their pulls (staff_context: the apps above accounts say them)."""
        account = alias_request.account
        aliases = ", ".join(alias.name for alias in account.aliases.all()) or "none"
        standing = "suspended" if account.is_suspended else "in good standing"
        verified = "a verified publisher" if account.verified else "not verified"
        email = notices.owner_emails(account.pk)
        if email and account.email_verified:
            email_state = f"email {', '.join(email)} verified {account.email_verified_at:%Y-%m-%d}"
        elif email:
            email_state = f"email {', '.join(email)} NOT verified"
        else:
            email_state = "no email"
        figures = staff_context.figures([account.pk])[account.pk]
        return (
            f"{account.name}, created {timesince(account.created_at, timezone.now())} ago, {standing}, {verified}; "
            f"{email_state}; " + "".join(f"{figure}; " for figure in figures) + f"aliases: {aliases}"
        )

    @admin.display(description="waiting")
    def age(self, alias_request: AliasRequest) -> str:
        if not alias_request.is_pending:
            return "—"
        return timesince(alias_request.created_at, timezone.now())

    def _decide(self, request, queryset, decide, done: str):
        decided, refused = 0, []
        for alias_request in queryset:
            try:
                decide(
                    alias_request=alias_request,
                    decided_by=request.user,
                    reason=request.POST.get("reason", ""),
                    site_url=links.site_url(request),
                    **staff_change(request),
                )
            except (services.AliasRequestNotPending, services.AliasUnavailable) as error:
                refused.append(str(error))
            else:
                decided += 1
        if decided:
            self.message_user(request, f"{decided} request(s) {done}; the requesters are told by email")
        for message in refused:
            self.message_user(request, message, messages.ERROR)

    @admin.action(description="Approve the selected alias requests…")
    def approve(self, request, queryset):
        page = ask_for_reason(
            self, request, queryset, action="approve", title="Approve alias requests", required=False,
            help_text="Optional: a note for the requester. Each alias becomes its account's primary alias; "
            "the previous aliases keep working.",
            submit="Approve",
        )  # fmt: skip
        if page is not None:
            return page
        self._decide(request, queryset, services.approve_alias_request, "approved")
        return None

    @admin.action(description="Reject the selected alias requests…")
    def reject(self, request, queryset):
        page = ask_for_reason(
            self, request, queryset, action="reject", title="Reject alias requests", required=True,
            help_text="Required: the requester reads it by email and on their settings page.",
            submit="Reject",
        )  # fmt: skip
        if page is not None:
            return page
        self._decide(request, queryset, services.reject_alias_request, "rejected")
        return None


class ReservedNameForm(forms.ModelForm):
    class Meta:
        model = ReservedName
        fields = ("name", "reason", "granted_to_account")
        help_texts = {
            "name": "An alias no one may ask for (exactly this name).",
            "granted_to_account": "Optional: the one account that may still ask for it.",
        }


@admin.register(ReservedName)
class ReservedNameAdmin(admin.ModelAdmin):
    form = ReservedNameForm
    list_display = ("name", "reason", "granted_to_account", "created_at")
    search_fields = ("name", "reason", "granted_to_account__id", "granted_to_account__name")
    autocomplete_fields = ("granted_to_account",)
    list_select_related = ("granted_to_account",)
    ordering = ("name",)

    def save_model(self, request, obj, form, change) -> None:
        services.put_reserved_name(reserved_name=obj, **staff_change(request))

    def delete_model(self, request, obj) -> None:
        services.delete_reserved_name(reserved_name=obj, **staff_change(request))

    def delete_queryset(self, request, queryset) -> None:
        for reserved_name in queryset:
            services.delete_reserved_name(reserved_name=reserved_name, **staff_change(request))


admin.site.unregister(get_user_model())
admin.site.unregister(Group)


@admin.register(get_user_model())
class BerthUserAdmin(UserAdmin):
    """Django's user admin, naming an account's users as the account does: an IAM
    user's stored username (`<account-id>/<name>`) is how Berth keeps IAM names unique
    per account, not a name to show. That name changes only through the account's IAM.
    Saving, deleting and setting a password go through apps.accounts.services, which
    record them with the staff member as actor."""

    def save_model(self, request, obj, form, change) -> None:
        services.staff_save_user(user=obj, changed=form.changed_data, created=not change, **staff_change(request))

    def delete_model(self, request, obj) -> None:
        services.staff_delete_user(user=obj, **staff_change(request))

    def delete_queryset(self, request, queryset) -> None:
        for user in queryset:
            services.staff_delete_user(user=user, **staff_change(request))

    def user_change_password(self, request, id, form_url=""):
        # Django's page saves the password itself; it is recorded in the same transaction.
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                user = self.get_object(request, unquote(id))
                services.staff_set_user_password(user=user, **staff_change(request))
        return response

    list_display = ("user_name", "account", "email", "is_active", "is_staff")
    list_select_related = ("membership",)
    search_fields = ("username", "membership__user_name", "email", "=membership__account__id")

    @admin.display(description="user name", ordering="membership__user_name")
    def user_name(self, user) -> str:
        return selectors.user_name_of(user)

    @admin.display(description="account", ordering="membership__account")
    def account(self, user) -> str:
        membership = getattr(user, "membership", None)
        return membership.account_id if membership is not None else "—"

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or getattr(obj, "membership", None) is None:
            return fieldsets
        (title, options), *rest = fieldsets
        names = []
        for field in options["fields"]:
            names.extend(("user_name", "account") if field == "username" else (field,))
        return ((title, {**options, "fields": tuple(names)}), *rest)

    def get_readonly_fields(self, request, obj=None):
        if obj is None or getattr(obj, "membership", None) is None:
            return super().get_readonly_fields(request, obj)
        return (*super().get_readonly_fields(request, obj), "user_name", "account")


@admin.register(Group)
class BerthGroupAdmin(GroupAdmin):
    """Django's permission groups (for staff), saved and deleted through
    apps.accounts.services, which record them with the staff member as actor."""

    def save_model(self, request, obj, form, change) -> None:
        services.staff_save_group(group=obj, changed=form.changed_data, created=not change, **staff_change(request))

    def delete_model(self, request, obj) -> None:
        services.staff_delete_group(group=obj, **staff_change(request))

    def delete_queryset(self, request, queryset) -> None:
        for group in queryset:
            services.staff_delete_group(group=group, **staff_change(request))

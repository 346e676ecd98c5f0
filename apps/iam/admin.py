"""The staff console for IAM: read-only views of root users, managed policies,
roles, their sessions and repository policies. Policies are changed by the
account owners through the API (apps.iam.services validates them); staff may end a
role session at once by deleting it."""

from __future__ import annotations

from django.contrib import admin

from apps.accounts.admin import staff_change
from apps.accounts.models import RootUser

from . import services
from .models import ManagedPolicy, PolicyAttachment, RepositoryPolicy, Role, RoleSession


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RootUser)
class RootUserAdmin(ReadOnlyAdmin):
    list_display = ("account", "user")
    search_fields = ("account__id", "account__name", "user__username")


class AttachmentInline(admin.TabularInline):
    model = PolicyAttachment
    fields = ("user_name", "role", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="user")
    def user_name(self, attachment: PolicyAttachment) -> str:
        return attachment.user.membership.user_name if attachment.user_id else "—"


@admin.register(ManagedPolicy)
class ManagedPolicyAdmin(ReadOnlyAdmin):
    list_display = ("name", "account", "path", "updated_at")
    list_filter = (("account", admin.EmptyFieldListFilter),)
    search_fields = ("name", "account__id")
    inlines = [AttachmentInline]


@admin.register(Role)
class RoleAdmin(ReadOnlyAdmin):
    list_display = ("name", "account", "path", "max_session_duration", "created_at")
    search_fields = ("name", "account__id")
    inlines = [AttachmentInline]


@admin.register(RoleSession)
class RoleSessionAdmin(ReadOnlyAdmin):
    list_display = ("access_key_id", "role", "session_name", "source_arn", "source_ip", "expires_at")
    search_fields = ("access_key_id", "session_name", "role__name", "role__account__id", "source_arn")
    exclude = ("secret_hash",)
    date_hierarchy = "created_at"

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("iam.delete_rolesession")

    def delete_model(self, request, obj) -> None:
        services.end_role_session(session=obj, **staff_change(request))

    def delete_queryset(self, request, queryset) -> None:
        for session in queryset.select_related("role"):
            services.end_role_session(session=session, **staff_change(request))


@admin.register(RepositoryPolicy)
class RepositoryPolicyAdmin(ReadOnlyAdmin):
    list_display = ("repository", "updated_at")
    search_fields = ("repository__name", "repository__account__id")

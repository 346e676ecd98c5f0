from django.contrib import admin, messages

from . import registries
from .models import Account, Alias, Membership


class AliasInline(admin.TabularInline):
    model = Alias
    extra = 0
    # One primary alias per account: switched with the alias list's action, never by two checkboxes.
    readonly_fields = ("is_primary",)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "display_name", "verified", "create_on_push", "created_at")
    list_filter = ("verified",)
    search_fields = ("id", "name", "display_name", "aliases__name")
    inlines = [AliasInline, MembershipInline]


@admin.register(Alias)
class AliasAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "is_primary", "is_default", "created_at")
    search_fields = ("name", "account__id", "account__name")
    raw_id_fields = ("account",)
    readonly_fields = ("is_primary",)
    actions = ["make_primary"]

    @admin.action(description="Make the selected alias its account's primary alias")
    def make_primary(self, request, queryset):
        chosen = list(queryset)
        if len({alias.account_id for alias in chosen}) != len(chosen):
            self.message_user(request, "choose at most one alias of each account", level=messages.ERROR)
            return
        for alias in chosen:
            registries.make_alias_primary(alias=alias)
        self.message_user(request, f"{len(chosen)} alias(es) made primary")

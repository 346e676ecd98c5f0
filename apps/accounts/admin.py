from django.contrib import admin

from .models import Account, Alias, Membership


class AliasInline(admin.TabularInline):
    model = Alias
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "create_on_push", "created_at")
    search_fields = ("id", "name", "aliases__name")
    inlines = [AliasInline, MembershipInline]

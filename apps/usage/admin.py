"""Usage in the staff console, read-only: the snapshots are taken by the scheduler
(or `berth usage_snapshot`), the served bytes counted by the registry's processes."""

from __future__ import annotations

from django.contrib import admin

from apps.iam.admin import ReadOnlyAdmin

from .models import AccountSnapshot, RepositorySnapshot, ServedBytes


@admin.register(AccountSnapshot)
class AccountSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("day", "account_id", "referenced_bytes", "exclusive_bytes", "image_count", "repository_count")
    search_fields = ("account_id",)
    date_hierarchy = "day"
    ordering = ("-day", "account_id")


@admin.register(RepositorySnapshot)
class RepositorySnapshotAdmin(ReadOnlyAdmin):
    list_display = ("day", "account_id", "repository", "referenced_bytes", "exclusive_bytes", "image_count")
    search_fields = ("account_id", "repository")
    date_hierarchy = "day"
    ordering = ("-day", "account_id", "repository")


@admin.register(ServedBytes)
class ServedBytesAdmin(ReadOnlyAdmin):
    list_display = ("day", "account_id", "repository", "anonymous", "bytes", "requests")
    list_filter = ("anonymous",)
    search_fields = ("account_id", "repository")
    date_hierarchy = "day"
    ordering = ("-day", "account_id", "repository")

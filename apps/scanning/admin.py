"""The scanner in the staff console: what the advisory database holds and how scans
went. Read-only: advisories change by `berth vulndb import`, scans by the workers."""

from __future__ import annotations

from django.contrib import admin

from .models import Advisory, AdvisorySource, ImageScan


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AdvisorySource)
class AdvisorySourceAdmin(ReadOnly):
    list_display = ("name", "imported_at", "records", "added", "changed", "unchanged", "invalid")
    ordering = ("name",)


@admin.register(Advisory)
class AdvisoryAdmin(ReadOnly):
    list_display = ("id", "severity", "score", "withdrawn", "modified", "source")
    list_filter = ("severity", "withdrawn", "source")
    search_fields = ("id", "summary")
    list_select_related = ("source",)


@admin.register(ImageScan)
class ImageScanAdmin(ReadOnly):
    list_display = ("manifest", "status", "trigger", "requested_at", "completed_at", "severity_counts")
    list_filter = ("status", "trigger")
    search_fields = ("manifest__digest", "manifest__repository__name")
    list_select_related = ("manifest__repository__account",)

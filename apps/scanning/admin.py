"""The scanner in the staff console: what the advisory database holds and how scans
went. Read-only: advisories change by `berth vulndb import`, scans by the workers."""

from __future__ import annotations

from django.contrib import admin

from apps.iam.admin import ReadOnlyAdmin

from .models import Advisory, AdvisorySource, ImageScan


@admin.register(AdvisorySource)
class AdvisorySourceAdmin(ReadOnlyAdmin):
    list_display = ("name", "imported_at", "records", "added", "changed", "unchanged", "invalid")
    ordering = ("name",)


@admin.register(Advisory)
class AdvisoryAdmin(ReadOnlyAdmin):
    list_display = ("id", "severity", "score", "withdrawn", "modified", "source")
    list_filter = ("severity", "withdrawn", "source")
    search_fields = ("id", "summary")
    list_select_related = ("source",)


@admin.register(ImageScan)
class ImageScanAdmin(ReadOnlyAdmin):
    list_display = ("manifest", "status", "trigger", "requested_at", "completed_at", "severity_counts")
    list_filter = ("status", "trigger")
    search_fields = ("manifest__digest", "manifest__repository__name")
    list_select_related = ("manifest__repository__account",)

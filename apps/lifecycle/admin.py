"""Lifecycle in the staff console: which repositories have a policy, when it last ran,
and their latest previews. Read-only: policies change through the API and the CLI,
whose services record them in the audit trail."""

from __future__ import annotations

from django.contrib import admin

from apps.iam.admin import ReadOnlyAdmin

from .models import LifecyclePolicy, LifecyclePreview


@admin.register(LifecyclePolicy)
class LifecyclePolicyAdmin(ReadOnlyAdmin):
    list_display = ("repository", "updated_at", "last_evaluated_at")
    search_fields = ("repository__name", "repository__account__id")
    list_select_related = ("repository__account",)


@admin.register(LifecyclePreview)
class LifecyclePreviewAdmin(ReadOnlyAdmin):
    list_display = ("repository", "status", "started_at", "completed_at")
    list_filter = ("status",)
    search_fields = ("repository__name",)
    list_select_related = ("repository__account",)

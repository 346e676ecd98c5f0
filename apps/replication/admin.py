"""Replication in the staff console: each account's rules (as DescribeRegistry shows
them, never a sealed secret), copies and their status (dead letters among the
FAILED ones), and back-fills. Read-only: the configuration changes through the API
and the CLI, whose services record it in the audit trail."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from apps.iam.admin import ReadOnlyAdmin

from . import config
from .models import ImageReplication, ReplicationBackfill, ReplicationConfiguration


@admin.register(ReplicationConfiguration)
class ReplicationConfigurationAdmin(ReadOnlyAdmin):
    list_display = ("account", "rule_count", "updated_at")
    search_fields = ("account__id", "account__name")
    fields = ("account", "described_rules", "updated_at")
    readonly_fields = fields

    @admin.display(description="rules")
    def rule_count(self, stored: ReplicationConfiguration) -> int:
        return len(stored.rules)

    @admin.display(description="rules (credentials not shown)")
    def described_rules(self, stored: ReplicationConfiguration) -> str:
        return format_html("<pre>{}</pre>", json.dumps(config.described(stored.rules), indent=2))


@admin.register(ImageReplication)
class ImageReplicationAdmin(ReadOnlyAdmin):
    list_display = (
        "repository", "image_digest", "action", "destination_label", "status", "failure_code", "attempts",
        "next_attempt_at", "updated_at",
    )  # fmt: skip
    list_filter = ("status", "action", "failure_code")
    search_fields = ("repository__name", "repository__account__id", "image_digest", "destination_registry_id")
    list_select_related = ("repository__account",)


@admin.register(ReplicationBackfill)
class ReplicationBackfillAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "rule_index", "status", "total", "dropped", "started_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("account__id",)

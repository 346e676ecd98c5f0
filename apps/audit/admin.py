"""The trail in the staff console: read only. An event is never added, changed or
deleted by hand (retention prunes them; the hash chain would show any edit)."""

from django.contrib import admin

from .models import Event, PruneRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = (
        "sequence",
        "event_time",
        "event_source",
        "event_name",
        "actor_arn",
        "source_ip",
        "recipient_account_id",
        "repository",
        "image_tag",
        "error_code",
    )
    list_filter = ("event_name", "event_source", "error_code", "read_only")
    search_fields = ("=actor_arn", "=repository", "=image_digest", "=source_ip", "=request_id")
    date_hierarchy = "event_time"
    ordering = ("-sequence",)
    show_full_result_count = False  # a count over millions of rows on every page is too slow


@admin.register(PruneRecord)
class PruneRecordAdmin(ReadOnlyAdmin):
    list_display = ("through_sequence", "removed_count", "older_than", "pruned_at")
    ordering = ("-through_sequence",)

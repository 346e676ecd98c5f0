from django.contrib import admin

from .models import Manifest, Tag, TagHistory, Upload


class ReadOnlyAdmin(admin.ModelAdmin):
    """Registry content changes only through the registry API, which keeps the
    invariants (links, references, tag history) the admin form cannot."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Manifest)
class ManifestAdmin(ReadOnlyAdmin):
    list_display = ("digest", "repository", "media_type", "size", "created_at")
    search_fields = ("digest", "repository__name")
    exclude = ("content",)


@admin.register(Tag)
class TagAdmin(ReadOnlyAdmin):
    list_display = ("name", "repository", "manifest", "updated_at")
    search_fields = ("name", "repository__name")


@admin.register(TagHistory)
class TagHistoryAdmin(ReadOnlyAdmin):
    list_display = ("repository", "tag", "old_digest", "new_digest", "actor", "created_at")
    search_fields = ("tag", "repository__name", "actor")


@admin.register(Upload)
class UploadAdmin(ReadOnlyAdmin):
    list_display = ("id", "repository", "size", "started_at", "updated_at")

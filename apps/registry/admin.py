"""The staff console's view of registry content: everything read-only, since blobs,
manifests and tags change only through the registry API, which keeps the invariants
(links, references, tag history) an admin form cannot."""
from django.contrib import admin

from .models import Blob, Manifest, Tag, TagHistory, Upload


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Blob)
class BlobAdmin(ReadOnlyAdmin):
    list_display = ("digest", "size", "created_at")
    search_fields = ("=digest",)


@admin.register(Manifest)
class ManifestAdmin(ReadOnlyAdmin):
    list_display = ("digest", "repository", "media_type", "size", "total_size", "created_at", "last_pulled_at")
    list_filter = ("media_type",)
    search_fields = ("digest", "repository__name")
    list_select_related = ("repository",)
    exclude = ("content",)


@admin.register(Tag)
class TagAdmin(ReadOnlyAdmin):
    list_display = ("name", "repository", "manifest", "updated_at")
    search_fields = ("name", "repository__name")
    list_select_related = ("repository", "manifest__repository")


@admin.register(TagHistory)
class TagHistoryAdmin(ReadOnlyAdmin):
    list_display = ("repository", "tag", "old_digest", "new_digest", "actor", "created_at")
    search_fields = ("tag", "repository__name", "actor")
    list_select_related = ("repository",)


@admin.register(Upload)
class UploadAdmin(ReadOnlyAdmin):
    list_display = ("id", "repository", "size", "started_at", "updated_at")
    list_select_related = ("repository",)

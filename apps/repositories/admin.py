from django.contrib import admin

from .models import Repository, RepositoryCatalogData


class RepositoryCatalogDataInline(admin.StackedInline):
    """Shown to staff as put; written through the API, which renders and checks it."""

    model = RepositoryCatalogData
    extra = 0
    can_delete = False
    fields = (
        "description", "about_markdown", "usage_markdown", "architectures", "operating_systems",
        "logo_content_type", "logo_width", "logo_height", "logo_digest", "updated_at",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "visibility", "created_at")
    list_filter = ("visibility",)
    search_fields = ("name", "account__id", "account__name")
    raw_id_fields = ("account",)
    inlines = [RepositoryCatalogDataInline]

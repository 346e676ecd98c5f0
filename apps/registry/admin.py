"""The staff console's view of registry content: everything read-only, since blobs,
manifests and tags change only through the registry API, which keeps the invariants
(links, references, tag history) an admin form cannot.

And of repositories: their visibility, how much they store and how many images they
hold, found by name, account or alias. Names and owners are fixed once made (image
references and links depend on them), and content is changed only through the
registry and the management API."""

from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from apps.accounts.admin import staff_change
from apps.kernel.sizes import binary_size
from apps.repositories import services as repository_services
from apps.repositories.models import Repository, RepositoryCatalogData

from .models import Blob, Manifest, RepositoryBlob, Tag, TagHistory, Upload
from .selectors import IMAGE_MANIFEST_TYPES


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


# -- repositories ------------------------------------------------------------------


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


def _per_repository(queryset, aggregate):
    """One value per repository as a correlated subquery, so that the list's one
    query carries every row's figure (and two aggregates do not multiply each other)."""
    return Coalesce(
        Subquery(
            queryset.filter(repository=OuterRef("pk"))
            .order_by()
            .values("repository")
            .annotate(value=aggregate)
            .values("value"),
            output_field=IntegerField(),
        ),
        0,
    )


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "visibility", "image_count", "stored_size", "created_at", "updated_at")
    list_filter = ("visibility", "image_tag_mutability")
    search_fields = ("name", "account__id", "account__name", "account__aliases__name")
    list_select_related = ("account",)
    fields = (
        "account", "name", "visibility", "image_count", "stored_size", "image_tag_mutability",
        "image_tag_mutability_exclusion_filters", "scan_on_push", "created_at", "updated_at",
    )  # fmt: skip
    # Tag mutability and its filters are checked together by the API; here they are only shown.
    readonly_fields = (
        "account", "name", "image_count", "stored_size", "image_tag_mutability",
        "image_tag_mutability_exclusion_filters", "created_at", "updated_at",
    )  # fmt: skip
    inlines = [RepositoryCatalogDataInline]

    def get_queryset(self, request):
        images = Manifest.objects.filter(media_type__in=IMAGE_MANIFEST_TYPES)
        return (
            super()
            .get_queryset(request)
            .annotate(
                image_total=_per_repository(images, Count("pk")),
                # What the repository's linked blobs take in the store (each blob once).
                stored_bytes=_per_repository(RepositoryBlob.objects, Sum("blob__size")),
            )
        )

    def has_add_permission(self, request) -> bool:
        return False  # made by the API or a push, which check the name and its account's rights

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the management API deletes a repository with its images (DeleteRepository)

    @admin.display(description="images", ordering="image_total")
    def image_count(self, repository: Repository) -> int:
        return repository.image_total

    @admin.display(description="stored size", ordering="stored_bytes")
    def stored_size(self, repository: Repository) -> str:
        return binary_size(repository.stored_bytes)

    def save_model(self, request, obj, form, change) -> None:
        repository_services.update_repository(
            repository=obj,
            visibility=form.cleaned_data["visibility"],
            scan_on_push=form.cleaned_data["scan_on_push"],
            **staff_change(request),
        )

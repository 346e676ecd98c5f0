"""The staff console's view of registry content: everything read-only, since blobs,
manifests and tags change only through the registry API, which keeps the invariants
(links, references, tag history) an admin form cannot.

And of repositories: their visibility, how much they store and how many images they
hold, found by name, account or alias. Names, owners and visibility are their owners'
(image references and links depend on them), and content is changed only through the
registry and the management API. Staff take a public repository down (and restore
it) with the list's actions, through apps.repositories.services, which records it
with the staff member as actor and mails the owner."""

from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from apps.accounts import links
from apps.accounts.admin import ask_for_reason, staff_change
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
    list_display = (
        "name", "account", "visibility", "takedown", "image_count", "stored_size", "created_at", "updated_at",
    )  # fmt: skip
    list_filter = ("visibility", ("taken_down_at", admin.EmptyFieldListFilter), "image_tag_mutability")
    search_fields = ("name", "account__id", "account__name", "account__aliases__name")
    list_select_related = ("account",)
    fields = (
        "account", "name", "visibility", "taken_down_at", "takedown_reason", "image_count", "stored_size",
        "image_tag_mutability", "image_tag_mutability_exclusion_filters", "scan_on_push", "created_at", "updated_at",
    )  # fmt: skip
    # The visibility is its owner's choice (the API, the console), never staff's: staff take a
    # public repository down instead (the actions below), which its owner cannot undo.
    # Tag mutability and its filters are checked together by the API; here they are only shown.
    readonly_fields = (
        "account", "name", "visibility", "taken_down_at", "takedown_reason", "image_count", "stored_size",
        "image_tag_mutability", "image_tag_mutability_exclusion_filters", "created_at", "updated_at",
    )  # fmt: skip
    inlines = [RepositoryCatalogDataInline]
    actions = ["take_down", "restore"]

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

    # Words, not Django's boolean icons: a green tick would say a taken-down repository is fine.
    @admin.display(description="take-down", ordering="taken_down_at")
    def takedown(self, repository: Repository) -> str:
        if repository.taken_down_at is None:
            return "—"
        return f"taken down {repository.taken_down_at:%Y-%m-%d}"

    def save_model(self, request, obj, form, change) -> None:
        repository_services.update_repository(
            repository=obj, scan_on_push=form.cleaned_data["scan_on_push"], **staff_change(request)
        )

    @admin.action(description="Take the selected public repositories down…")
    def take_down(self, request, queryset):
        page = ask_for_reason(
            self, request, queryset, action="take_down", title="Take repositories down", required=True,
            help_text="Required: the owner reads it by email. The repository leaves the gallery and nobody outside "
            "its account can pull it; its account keeps every right on it and nothing is deleted. Restore undoes it.",
            submit="Take down",
        )  # fmt: skip
        if page is not None:
            return page
        done, refused = 0, []
        for repository in queryset:
            try:
                repository_services.take_down_repository(
                    repository=repository, reason=request.POST["reason"], site_url=links.site_url(request),
                    **staff_change(request),
                )  # fmt: skip
            except repository_services.RepositoryNotPublic as error:
                refused.append(str(error))
            else:
                done += 1
        if done:
            self.message_user(
                request,
                f"{done} repositor{'y' if done == 1 else 'ies'} taken down; the owners are told by email",
                messages.WARNING,
            )
        for message in refused:
            self.message_user(request, message, messages.ERROR)
        return None

    @admin.action(description="Restore the selected taken-down repositories")
    def restore(self, request, queryset):
        restored = 0
        for repository in queryset:
            was_down = repository.is_taken_down
            repository_services.restore_repository(
                repository=repository, site_url=links.site_url(request), **staff_change(request)
            )
            restored += was_down
        self.message_user(
            request, f"{restored} repositor{'y' if restored == 1 else 'ies'} restored; the owners are told by email"
        )

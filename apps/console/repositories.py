"""The console's repository pages: the list (searchable, a page at a time), creating
a repository, its settings, and deleting it.

Each does what the management API does for the same operation
(apps/api/repositories/views.py): the same authorize actions (``also=`` included),
the same services, which record the audit events. The list is DescribeRepositories
filtered by the policies as the API's listing is; its sizes, image counts and last
pushes are read for the page's repositories at once, whatever their number
(apps.registry.selectors.stored_bytes)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.urls import path
from django.utils.http import urlencode

from apps.accounts.quotas import QuotaExceeded
from apps.audit import events
from apps.iam import enforcement
from apps.registry import selectors as registry_selectors
from apps.registry import services as registry_services
from apps.repositories import selectors as repository_selectors
from apps.repositories import services
from apps.repositories.models import REPOSITORY_NAME_MAX_LENGTH, Repository, TagMutability, Visibility
from apps.repositories.mutability import WITH_EXCLUSION, TagMutabilityInvalid

from . import converters  # noqa: F401  (registers `repo`, which the routes below use)
from .base import ConsoleView
from .repositories_forms import (
    CreateRepositoryForm,
    DeleteRepositoryForm,
    RepositorySettingsForm,
    create_actions,
    update_actions,
)

PAGE_SIZE = 50
DESCRIBE = "ecr:DescribeRepositories"

# A settings field and the management API field whose change it is (UpdateRepository).
_API_FIELDS = {
    "visibility": "visibility",
    "image_tag_mutability": "imageTagMutability",
    "exclusion_filters": "imageTagMutabilityExclusionFilters",
    "scan_on_push": "scanOnPush",
    "resource_tags": "tags",
}


def repository_path(name: str) -> str:
    return f"/console/repositories/{name}"


class _RepositoryPage(ConsoleView):
    section = "repositories"

    def input_refused(self, code: str, message: str) -> None:
        """The request's audit event (when one was started) failed on its input, in
        the management API's words (its error codes)."""
        draft = events.current(self.request)
        if draft is not None:
            draft.error_code, draft.error_message = code, message[:1000]

    def begin(self, action: str, repository: Repository) -> None:
        """Start (again) the request's audit event, named after ``action``."""
        enforcement.begin_event(
            self.request,
            self.caller,
            action,
            recipient_account_id=self.account.pk,
            repository=repository.name,
            registryId=self.account.pk,
            repositoryName=repository.name,
        )


def _first_error(form) -> str:
    for field, errors in form.errors.items():
        if errors:
            return f"{field}: {errors[0]}" if field != "__all__" else str(errors[0])
    return "invalid input"


class RepositoryList(_RepositoryPage):
    template_name = "console/repositories/list.html"

    def get(self, request):
        query = request.GET.get("q", "").strip()[:REPOSITORY_NAME_MAX_LENGTH]
        repositories = Repository.objects.filter(account=self.account).order_by("name")
        if query:
            repositories = repositories.filter(name__icontains=query)
        visible = self.permitted(DESCRIBE, repositories)
        page = Paginator(visible, PAGE_SIZE).get_page(request.GET.get("page"))
        shown = list(page.object_list)
        ids = [repository.pk for repository in shown]
        stored = registry_selectors.stored_bytes(ids)
        host = repository_selectors.registry_host(request)
        rows = [
            {
                "repository": repository,
                "uri": repository_selectors.repository_uri(repository, host=host, primary_alias=self.primary_alias),
                "stored": stored.get(repository.pk, registry_selectors.StoredBytes()),
                "with_exclusions": repository.image_tag_mutability in WITH_EXCLUSION,
            }
            for repository in shown
        ]
        context = {
            "rows": rows,
            "query": query,
            "page": page,
            "previous_url": self._page_url(query, page.previous_page_number()) if page.has_previous() else "",
            "next_url": self._page_url(query, page.next_page_number()) if page.has_next() else "",
            "is_root": self.caller.is_root,
        }
        return self.render(context)

    @staticmethod
    def _page_url(query: str, number: int) -> str:
        parameters = {"q": query} if query else {}
        if number > 1:
            parameters["page"] = number
        return "/console/repositories" + (f"?{urlencode(parameters)}" if parameters else "")


class NewRepository(_RepositoryPage):
    template_name = "console/repositories/new.html"

    def get(self, request):
        wanted = request.GET.get("visibility")
        initial = {"visibility": wanted if wanted in Visibility.values else Visibility.PRIVATE}
        return self.render({"form": CreateRepositoryForm(initial=initial)})

    def post(self, request):
        form = CreateRepositoryForm(request.POST)
        if not form.is_valid():
            return self.render({"form": form}, status=400)
        data = form.cleaned_data
        self.authorize(
            "ecr:CreateRepository",
            resource_arn=self.repository_arn(data["name"]),
            also=create_actions(visibility=data["visibility"], resource_tags=data["resource_tags"]),
            repositoryName=data["name"],
        )
        try:
            repository = services.create_repository(
                account=self.account,
                name=data["name"],
                visibility=data["visibility"],
                image_tag_mutability=data["image_tag_mutability"],
                image_tag_mutability_exclusion_filters=data["exclusion_filters"],
                scan_on_push=data["scan_on_push"],
                resource_tags=data["resource_tags"],
                encryption_type=data["encryption_type"],
                kms_key=data["kms_key"],
                actor=self.actor,
                context=self.context,
            )
        except services.EncryptionConfigurationInvalid as exc:
            form.add_error("encryption_type", str(exc))
        except services.RepositoryExists:
            form.add_error("name", f"Your account already has a repository named {data['name']}.")
            self.input_refused("repository_already_exists", _first_error(form))
            return self.render({"form": form}, status=400)
        except QuotaExceeded as exc:
            form.add_error(None, str(exc))
            self.input_refused("quota_exceeded", str(exc))
            return self.render({"form": form}, status=409)
        except services.RepositoryNameInvalid as exc:
            form.add_error("name", str(exc))
        except TagMutabilityInvalid as exc:
            form.add_error("exclusion_filters", str(exc))
        except services.ResourceTagsInvalid as exc:
            form.add_error("resource_tags", str(exc))
        if form.errors:
            self.input_refused("invalid", _first_error(form))
            return self.render({"form": form}, status=400)
        self.done(f"Created the {repository.get_visibility_display().lower()} repository {repository.name}.")
        return redirect(repository_path(repository.name))


class RepositorySettings(_RepositoryPage):
    template_name = "console/repositories/settings.html"

    def get(self, request, name: str):
        repository = self.repository_named(name, action=DESCRIBE)
        self.authorize(DESCRIBE, repository=repository)
        return self._page(repository, RepositorySettingsForm.for_repository(repository))

    def post(self, request, name: str):
        repository = self.repository_named(name, action=DESCRIBE)
        form = RepositorySettingsForm.for_repository(repository, request.POST)
        if not form.is_valid():
            # Recorded as the operations the user tried, as the API records a refused update.
            asked = {_API_FIELDS[field] for field in form.changed_data if field in _API_FIELDS}
            self.begin(update_actions(asked)[0], repository)
            self.input_refused("invalid", _first_error(form))
            return self._page(repository, form, status=400)
        changes = form.changes(repository)
        first, *others = update_actions(changes)
        self.authorize(first, repository=repository, also=others)
        if not changes:
            self.done("Nothing to save: the settings are as they were.")
            return redirect(f"{repository_path(repository.name)}/-/settings")
        try:
            services.update_repository(
                repository=repository,
                visibility=changes.get("visibility"),
                image_tag_mutability=changes.get("imageTagMutability"),
                image_tag_mutability_exclusion_filters=changes.get("imageTagMutabilityExclusionFilters"),
                scan_on_push=changes.get("scanOnPush"),
                resource_tags=changes.get("tags"),
                actor=self.actor,
                context=self.context,
            )
        except TagMutabilityInvalid as exc:
            form.add_error("exclusion_filters", str(exc))
        except services.ResourceTagsInvalid as exc:
            form.add_error("resource_tags", str(exc))
        if form.errors:
            self.input_refused("invalid", _first_error(form))
            return self._page(repository, form, status=400)
        self.done(f"Saved the settings of {repository.name}: {_said(changes)}.")
        return redirect(f"{repository_path(repository.name)}/-/settings")

    def _page(self, repository: Repository, form: RepositorySettingsForm, *, status: int = 200):
        context = {
            "repository": repository,
            "tab": "settings",
            "form": form,
            "may_delete": self.allowed("ecr:DeleteRepository", repository=repository),
        }
        return self.render(context, status=status)


def _said(changes: dict) -> str:
    """What a settings change did, for the message after it."""
    said = []
    if "visibility" in changes:
        said.append(f"now {changes['visibility']}")
    if "imageTagMutability" in changes:
        label = TagMutability(changes["imageTagMutability"]).label.lower()
        filters = changes["imageTagMutabilityExclusionFilters"]
        said.append(f"tags {label}" + (f" ({', '.join(filters)})" if filters else ""))
    if "scanOnPush" in changes:
        said.append("scan on push " + ("on" if changes["scanOnPush"] else "off"))
    if "tags" in changes:
        count = len(changes["tags"])
        said.append(f"{count} resource tag{'' if count == 1 else 's'}")
    return "; ".join(said)


class DeleteRepository(_RepositoryPage):
    template_name = "console/repositories/delete.html"

    def get(self, request, name: str):
        repository = self.repository_named(name, action=DESCRIBE)
        self.authorize(DESCRIBE, repository=repository)
        return self._page(repository, DeleteRepositoryForm(repository=repository))

    def post(self, request, name: str):
        repository = self.repository_named(name, action="ecr:DeleteRepository")
        form = DeleteRepositoryForm(request.POST, repository=repository)
        if not form.is_valid():
            self.input_refused("invalid", _first_error(form))
            return self._page(repository, form, status=400)
        force = form.cleaned_data["force"]
        self.authorize("ecr:DeleteRepository", repository=repository, force=force)
        try:
            registry_services.delete_repository(
                repository=repository, force=force, actor=self.actor, context=self.context
            )
        except services.RepositoryNotEmpty:
            form.add_error(
                "force",
                f"{repository.name} still holds images. Tick “Delete its images too” to delete them with it, "
                "or delete them first.",
            )
            self.input_refused("repository_not_empty", _first_error(form))
            return self._page(repository, form, status=400)
        self.done(f"Deleted the repository {repository.name}" + (" and its images." if force else "."))
        return redirect("/console/repositories")

    def _page(self, repository: Repository, form: DeleteRepositoryForm, *, status: int = 200):
        stored = registry_selectors.stored_bytes([repository.pk]).get(repository.pk, registry_selectors.StoredBytes())
        context = {"repository": repository, "tab": "settings", "form": form, "stored": stored}
        return self.render(context, status=status)


urlpatterns = [
    path("/repositories", RepositoryList.as_view(), name="repositories"),
    path("/new-repository", NewRepository.as_view(), name="new-repository"),
    path("/repositories/<repo:name>/-/settings", RepositorySettings.as_view(), name="repository-settings"),
    path("/repositories/<repo:name>/-/delete", DeleteRepository.as_view(), name="repository-delete"),
]

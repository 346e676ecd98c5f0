"""A public repository's catalog data in the console: Amazon ECR Public's
GetRepositoryCatalogData and PutRepositoryCatalogData as a page.

`/console/repositories/<name>/-/catalog` shows and edits the description, the
about and usage texts (Markdown), the operating systems and architectures, and the
logo, through the very service and authorization the management API uses
(apps.api.repositories.views.RepositoryCatalogDataDetail). The Markdown preview is
the gallery's own renderer and sanitizer (apps.repositories.catalog.render_markdown):
what the preview shows is what the gallery will show. Without JavaScript the form's
"Preview" button renders the page again with the draft kept and its preview beside
it; with it, catalog.js asks `/-/catalog/preview` for the HTML as one types.

ECR Public has no private repositories: a private repository's page says so (404),
and offers its settings, where it can be made public."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect
from django.urls import path
from django.utils.http import parse_etags, quote_etag

from apps.repositories import catalog

from . import converters  # noqa: F401  (registers `repo` before the routes below use it)
from .base import ConsoleView
from .catalog_forms import SERVICE_FIELDS, CatalogDataForm, PreviewForm

READ = "ecr-public:GetRepositoryCatalogData"
WRITE = "ecr-public:PutRepositoryCatalogData"


class _CatalogView(ConsoleView):
    section = "repositories"

    def public_repository(self, name: str, *, action: str):
        """The account's repository ``name``, the caller allowed ``action`` on it."""
        repository = self.repository_named(name, action=action)
        self.authorize(action, repository=repository)
        return repository

    def not_public(self, repository):
        return self.render(
            {"repository": repository, "tab": "catalog"}, template_name="console/catalog/not_public.html", status=404
        )


class CatalogDataPage(_CatalogView):
    template_name = "console/catalog/edit.html"

    def get(self, request, name: str):
        repository = self.public_repository(name, action=READ)
        if not repository.is_public:
            return self.not_public(repository)
        current = catalog.catalog_data_of(repository)
        form = CatalogDataForm(initial=CatalogDataForm.initial_from(current), current=current)
        previews = {"about": current.about_html, "usage": current.usage_html}
        return self.page(repository, current, form, previews)

    def post(self, request, name: str):
        previewing = "preview" in request.POST
        # Previewing writes nothing: it asks only to read, as the live preview does.
        repository = self.public_repository(name, action=READ if previewing else WRITE)
        if not repository.is_public:
            return self.not_public(repository)
        current = catalog.catalog_data_of(repository)
        form = CatalogDataForm(request.POST, request.FILES, current=current)
        if previewing:
            return self.preview_page(repository, current, form)
        if not form.is_valid():
            return self.page(repository, current, form, self.drafted(form), status=400)
        given = form.cleaned_data
        try:
            catalog.put_repository_catalog_data(
                repository=repository,
                description=given["description"],
                about_markdown=given["about_markdown"],
                usage_markdown=given["usage_markdown"],
                operating_systems=given["operating_systems"],
                architectures=given["architectures"],
                logo=given["logo"],
                remove_logo=given["remove_logo"] and current.has_logo,
                actor=self.actor,
                context=self.context,
            )
        except catalog.RepositoryNotPublic:  # made private meanwhile
            return self.not_public(repository)
        except catalog.CatalogDataInvalid as exc:
            form.add_error(SERVICE_FIELDS[exc.field], str(exc))
            return self.page(repository, current, form, self.drafted(form), status=400)
        self.done(f"Catalog data of {repository.name} saved; the gallery shows it now.")
        return redirect("console:catalog", name=repository.name)

    def preview_page(self, repository, current, form):
        """The page again with the draft as typed and its rendering beside each text.
        The logo is not kept (a browser never refills a file input): the page says so."""
        valid = form.is_valid()
        previews = self.drafted(form)
        return self.page(repository, current, form, previews, previewed=True, status=200 if valid else 400)

    @staticmethod
    def drafted(form) -> dict[str, str]:
        """The draft's texts rendered (those within the limit: a longer one has its error)."""
        previews = {}
        for key, field in (("about", "about_markdown"), ("usage", "usage_markdown")):
            text = form.data.get(field, "")
            previews[key] = catalog.render_markdown(text) if field not in form.errors else ""
        return previews

    def page(self, repository, current, form, previews, *, previewed=False, status=200):
        return self.render(
            {
                "repository": repository,
                "tab": "catalog",
                "catalog": current,
                "form": form,
                "previews": previews,
                "previewed": previewed,
                "gallery_path": f"/{self.primary_alias}/{repository.name}",
                "may_write": self.allowed(WRITE, repository=repository),
            },
            status=status,
        )


class CatalogPreview(_CatalogView):
    """POST `text`: the Markdown rendered and sanitized as the gallery does (an HTML
    fragment), for the live preview. Reading, so it asks for the read action."""

    def post(self, request, name: str):
        self.public_repository(name, action=READ)
        form = PreviewForm(request.POST)
        if not form.is_valid():
            message = "; ".join(error for errors in form.errors.values() for error in errors)
            return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
        html = catalog.render_markdown(form.cleaned_data["text"])
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response


class CatalogLogo(_CatalogView):
    """The logo as put, for the page (the gallery's copy is cached up to an hour)."""

    def get(self, request, name: str):
        repository = self.public_repository(name, action=READ)
        found = catalog.logo_of(repository)
        if found is None:
            return HttpResponse(f"{repository.name} has no logo", status=404, content_type="text/plain")
        etag = quote_etag(found.logo_digest)
        if etag in {tag.removeprefix("W/") for tag in parse_etags(request.headers.get("If-None-Match", ""))}:
            response = HttpResponseNotModified()
        else:
            response = HttpResponse(bytes(found.logo), content_type=found.logo_content_type)
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response


urlpatterns = [
    path("/repositories/<repo:name>/-/catalog", CatalogDataPage.as_view(), name="catalog"),
    path("/repositories/<repo:name>/-/catalog/preview", CatalogPreview.as_view(), name="catalog-preview"),
    path("/repositories/<repo:name>/-/catalog/logo", CatalogLogo.as_view(), name="catalog-logo"),
]

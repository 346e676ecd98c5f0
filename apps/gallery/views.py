"""The public gallery's pages: home, search, publisher and repository pages, and
repository logos. Thin: every read is a selector; nothing here ever reaches a
private repository, because the selectors start from listed repositories only."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.conf import settings
from django.http import HttpResponse, HttpResponseNotModified, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import quote_etag
from django.views.decorators.http import require_safe

from apps.repositories.models import RECOGNISED_ARCHITECTURES, RECOGNISED_OPERATING_SYSTEMS
from apps.repositories.selectors import registry_host

from . import selectors
from .models import Kind

LOGO_MAX_AGE = 3600
REPOSITORY_TABS = ("about", "usage", "tags")
# A repository's Markdown texts may show images from https hosts and align table cells
# (`style="text-align: ..."`, the only style the sanitizer keeps): the page that shows
# them widens the site's Content-Security-Policy for both, and for nothing else.
MARKDOWN_POLICY = {"img-src": ["https:"], "style-src-attr": [UNSAFE_INLINE]}


def not_found(request, *, what: str) -> HttpResponse:
    return render(request, "gallery/not_found.html", {"what": what}, status=404)


@require_safe
def home(request):
    return render(
        request,
        "gallery/home.html",
        {
            "popular": selectors.popular(),
            "recent": selectors.recently_updated(),
            "publishers": selectors.verified_publishers(),
        },
    )


@require_safe
def search(request):
    filters = selectors.SearchFilters.from_params(request.GET)
    pasted = _image_address(filters.query)
    if pasted is not None and (entry := selectors.listed_entry(pasted.alias, pasted.name)) is not None:
        page = reverse("gallery:repository", args=[entry.alias, entry.name])
        return HttpResponseRedirect(f"{page}?{urlencode({'tag': pasted.tag})}" if pasted.tag else page)
    results = selectors.search(filters, page_number=request.GET.get("page", 1))
    query_without_page = request.GET.copy()
    query_without_page.pop("page", None)
    return render(
        request,
        "gallery/search.html",
        {
            "results": results,
            "filters": filters,
            "query": filters.query,
            "page": results.page,
            "page_query": query_without_page.urlencode(),
            "operating_systems": RECOGNISED_OPERATING_SYSTEMS,
            "architectures": RECOGNISED_ARCHITECTURES,
            "kinds": Kind.choices,
            "sorts": selectors.Sort.CHOICES,
        },
    )


@dataclass(frozen=True)
class _ImageAddress:
    alias: str
    name: str
    tag: str


_PULL_COMMANDS = ("docker pull ", "podman pull ", "skopeo inspect ", "helm pull ")
_SCHEMES = ("docker://", "oci://", "https://", "http://")


def _image_address(query: str) -> _ImageAddress | None:
    """A pasted image address (`host/alias/name:tag`, `alias/name@sha256:...`, a
    whole `docker pull ...` command): the repository it names, or None when the
    query is not one."""
    text = query.strip()
    for prefix in _PULL_COMMANDS + _SCHEMES:
        text = text.removeprefix(prefix)
    text = text.split(" ", 1)[0]  # `helm pull oci://... --version 1.2`
    reference, _, _digest = text.partition("@")
    tag = ""
    if ":" in reference.rsplit("/", 1)[-1]:
        reference, tag = reference.rsplit(":", 1)
    parts = reference.split("/")
    if len(parts) >= 3 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]  # the registry's host
    if len(parts) < 2 or not all(parts):
        return None
    return _ImageAddress(alias=parts[0], name="/".join(parts[1:]), tag=tag)


@require_safe
def publisher(request, alias: str):
    found = selectors.publisher_page(alias, page_number=request.GET.get("page", 1))
    if found is None:
        return not_found(request, what=f"publisher {alias}")
    if alias != found.alias or request.path.endswith("/"):
        # the page's one address: the primary alias (which may change: not permanent), no trailing slash
        return HttpResponseRedirect(_with_query(request, reverse("gallery:publisher", args=[found.alias])))
    return render(request, "gallery/publisher.html", {"publisher": found, "page": found.page, "page_query": ""})


def pull_command(*, host: str, alias: str, name: str, tag: str, kind: str) -> str:
    if kind == Kind.HELM_CHART:
        return f"helm pull oci://{host}/{alias}/{name} --version {tag}"
    return f"docker pull {host}/{alias}/{name}:{tag}"


@csp_update(MARKDOWN_POLICY)
@require_safe
def repository(request, alias: str, name: str):
    entry = selectors.listed_entry(alias, name)
    if entry is None:
        return not_found(request, what=f"repository {alias}/{name}")
    if alias != entry.alias:
        # Another alias of the account (an older one): the page lives under the primary
        # alias, which may change again, so the redirect is not a permanent one.
        return HttpResponseRedirect(_with_query(request, reverse("gallery:repository", args=[entry.alias, name])))
    tab = request.GET.get("tab", "about")
    tab = tab if tab in REPOSITORY_TABS else "about"
    # `tag` chooses the tag the pull box shows; on the tags tab `filter` narrows the
    # list (a part of a tag's name), and choosing a tag keeps the list as it was.
    chosen = request.GET.get("tag", "")[: selectors.TAG_FILTER_MAX_LENGTH]
    host = registry_host(request)
    is_helm_chart = entry.kind == Kind.HELM_CHART
    page = None
    if tab == "tags":
        filters = selectors.TagFilters.from_params(request.GET)
        page = selectors.tags_page(entry, filters, page_number=request.GET.get("page", 1))
    # A tag chosen from the tags tab's list is on its page: no query to find it.
    on_page = [row for row in page.object_list if row.name == chosen] if page is not None and chosen else []
    tag = on_page[0] if on_page else selectors.tag_named(entry, chosen) if chosen else None
    tag_name = tag.name if tag is not None else entry.default_tag
    history = selectors.daily_pulls(entry)
    context = {
        "entry": entry,
        "tab": tab,
        "texts": selectors.catalog_texts(entry) if tab != "tags" else None,
        "host": host,
        "tag_name": tag_name,
        "unknown_tag": chosen if chosen and tag is None and tab != "tags" else "",
        "pull_command": pull_command(host=host, alias=entry.alias, name=entry.name, tag=tag_name, kind=entry.kind)
        if tag_name
        else "",
        "is_helm_chart": is_helm_chart,
        "tags_label": "Versions" if is_helm_chart else "Image tags",
        "tag_label": "Version" if is_helm_chart else "Tag",
        "pull_history": history,
        # absolute addresses for link previews (Open Graph), as the public sees the site
        "site_url": settings.BERTH_PUBLIC_URL or f"{request.scheme}://{request.get_host()}",
    }
    if page is not None:
        for row in page.object_list:
            row.pull_command = pull_command(
                host=host, alias=entry.alias, name=entry.name, tag=row.name, kind=entry.kind
            )
        kept = {"tab": "tags"}
        if filters.text:
            kept["filter"] = filters.text
        if filters.sort != selectors.TagSort.NEWEST:
            kept["sort"] = filters.sort
        context.update(
            page=page,
            page_query=urlencode(kept),
            tag_filters=filters,
            tag_sorts=selectors.TagSort.CHOICES,
            sort_query=urlencode({"tab": "tags", "sort": filters.sort}),
            list_query=urlencode(kept),
        )
    return render(request, "gallery/repository.html", context)


@require_safe
def repository_with_slash(request, alias: str, name: str):
    """`/<alias>/<name>/`: the page's address has no trailing slash."""
    return HttpResponsePermanentRedirect(_with_query(request, reverse("gallery:repository", args=[alias, name])))


def _with_query(request, path: str) -> str:
    query = request.META.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


@require_safe
def repository_logo(request, alias: str, name: str):
    catalog = selectors.logo_of(alias, name)
    if catalog is None:
        return HttpResponse("no logo", status=404, content_type="text/plain")
    return _logo_response(request, catalog.logo, content_type=catalog.logo_content_type, digest=catalog.logo_digest)


@require_safe
def publisher_logo(request, alias: str):
    logo = selectors.publisher_logo_of(alias)
    if logo is None:
        return HttpResponse("no logo", status=404, content_type="text/plain")
    return _logo_response(request, logo.data, content_type=logo.content_type, digest=logo.digest)


def _logo_response(request, data, *, content_type: str, digest: str) -> HttpResponse:
    etag = quote_etag(digest)
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(bytes(data), content_type=content_type)
    response["ETag"] = etag
    response["X-Content-Type-Options"] = "nosniff"
    # Public and the same for everyone; a changed logo has a new ETag, asked for within the hour.
    patch_cache_control(response, public=True, max_age=LOGO_MAX_AGE)
    return response

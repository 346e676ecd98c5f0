"""Refusals at the edge that every surface shares."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from rest_framework.exceptions import ErrorDetail, ValidationError

from apps.api.exceptions import error_body

_NUL = "\x00"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _is_registry(path: str) -> bool:
    """The registry checks each part of its requests against the part's own grammar
    and answers with that part's OCI error code (NAME_INVALID, TAG_INVALID, ...)."""
    return path.startswith("/v2/") or path == "/token"


class RefuseNulMiddleware:
    """A 400 for a path, query parameter or form field holding a NUL character
    (`%00`), before any view: PostgreSQL can neither store nor even look up text
    holding one, where SQLite would, and both databases must answer alike (a
    CharField refuses it, but a choice of a model, an admin action's selection or
    a URL's part would reach a query). The management API answers in its error
    shape, naming the parameter (or `path`); its JSON bodies are apps.api.parsers'.
    Pages answer with a readable page."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _is_registry(request.path_info):
            where = _nul_in(request, api=_is_api(request.path_info))
            if where is not None:
                return _refusal(request, *where)
        return self.get_response(request)


def _is_api(path: str) -> bool:
    return path.startswith("/api/")


def _nul_in(request: HttpRequest, *, api: bool) -> tuple[str, str] | None:
    """(where, which) of the first NUL: ("path", ""), ("query", name) or ("form", name).
    The API reads no forms (it answers 415 to one): its body is left to its parser."""
    if _NUL in request.path_info:
        return "path", ""
    query = request.META.get("QUERY_STRING", "")
    if "%00" in query or _NUL in query:
        name = _holding_nul(request.GET)
        if name is not None:
            return "query", name
    if not api and request.method == "POST" and request.content_type in _FORM_TYPES:
        name = _holding_nul(request.POST)
        if name is not None:
            return "form", name
    return None


def _holding_nul(fields: QueryDict) -> str | None:
    for name, values in fields.lists():
        if _NUL in name or any(_NUL in value for value in values):
            return name.replace(_NUL, "\N{REPLACEMENT CHARACTER}")
    return None


_PAGE_REASONS = {
    "path": "The address of this page holds a NUL character (%00), which nothing on Berth can contain.",
    "query": "The address of this page holds a NUL character (%00) in its parameter “{name}”; nothing on "
    "Berth can contain one.",
    "form": "The form field “{name}” holds a NUL character, which nothing on Berth can contain.",
}


def _refusal(request: HttpRequest, where: str, name: str) -> HttpResponse:
    if _is_api(request.path_info):
        error = ErrorDetail("Null characters are not allowed.", code="null_characters_not_allowed")
        return JsonResponse(error_body(ValidationError({name or where: [error]})), status=400)
    reason = _PAGE_REASONS[where].format(name=name)
    return render(request, "bad_request.html", {"reason": reason}, status=400)

"""Errors of the management API: DRF's, each with a stable `code`.

Every error body is `{"code": ..., "detail": ...}`; a validation error also lists
what is wrong with each field under `errors`, each with its own code (DRF's:
`required`, `invalid`, `max_length`, `invalid_choice`, ...)."""
from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from apps.registry.storage.space import out_of_space

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    """The request is valid but the resource's state refuses it; raised with a specific code."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "the resource's current state does not allow this request"
    default_code = "conflict"


class BadRequest(exceptions.APIException):
    """The request is well formed but asks for what this resource cannot do; raised with a specific code."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "the request cannot be carried out on this resource"
    default_code = "bad_request"


class InsufficientStorage(exceptions.APIException):
    """The registry's storage (database, blob store) is full; nothing was stored."""

    status_code = 507
    default_detail = "the registry's storage is full; nothing was stored, try again once space is freed"
    default_code = "insufficient_storage"


class AccessDenied(exceptions.PermissionDenied):
    """The policies refuse the caller this action (IAM's AccessDeniedException); the
    message names the action, the resource and why."""

    default_detail = "the policies do not allow this request"
    default_code = "access_denied"


def _field_errors(details, field: str = "") -> list[dict]:
    """Flatten DRF's nested {field: [{message, code}]} into one list."""
    if isinstance(details, dict) and set(details) == {"message", "code"}:
        return [{"field": field or api_settings.NON_FIELD_ERRORS_KEY, **details}]
    if isinstance(details, dict):
        return [
            error
            for key, value in details.items()
            for error in _field_errors(value, f"{field}.{key}" if field else str(key))
        ]
    if isinstance(details, list):
        return [e for value in details for e in _field_errors(value, field)]
    return [{"field": field or api_settings.NON_FIELD_ERRORS_KEY, "message": str(details), "code": "invalid"}]


def error_body(exc: exceptions.APIException) -> dict:
    if isinstance(exc, exceptions.ValidationError) or isinstance(exc.detail, (list, dict)):
        errors = _field_errors(exc.get_full_details())
        summary = "; ".join(
            e["message"] if e["field"] == api_settings.NON_FIELD_ERRORS_KEY else f"{e['field']}: {e['message']}"
            for e in errors
        )
        return {"code": exc.default_code, "detail": summary, "errors": errors}
    return {"code": exc.detail.code or exc.default_code, "detail": str(exc.detail)}


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    elif out_of_space(exc):
        logger.error("storage full: %s", exc)
        exc = InsufficientStorage()
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = error_body(exc)
    return response

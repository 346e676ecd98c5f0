"""Errors of the management API: DRF's, each with a stable `code`.

Every error body is `{"code": ..., "detail": ...}`; a validation error also lists
what is wrong with each field under `errors`, each with its own code (DRF's:
`required`, `invalid`, `max_length`, `invalid_choice`, ...). The domain's
refusals (apps.kernel.errors.DomainError) become these here, in
exception_handler, and nowhere else."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from apps.accounts.quotas import QuotaExceeded
from apps.iam import registry_policies
from apps.kernel.errors import DomainError
from apps.lifecycle import exceptions as lifecycle
from apps.registry import exceptions as registry
from apps.registry.storage.space import out_of_space
from apps.repositories import creation_templates
from apps.scanning import exceptions as scanning

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


# The domain's refusals in the API's words: the error and its code. An error whose
# class is not listed is said as its nearest listed base class; DomainError's entry,
# the fallback, is a validation error of the request field the view names for the
# error in its `domain_error_fields` (by class, nearest base first), or of the
# request as a whole when it names none.
DOMAIN_ERRORS: dict[type[DomainError], tuple[type[exceptions.APIException], str]] = {
    registry.TagImmutable: (Conflict, "image_tag_already_exists"),
    # The account's figures, not the request, refuse it: it succeeds once room is freed.
    QuotaExceeded: (Conflict, "quota_exceeded"),
    registry.ManifestBlobUnknown: (BadRequest, "layers_not_found"),
    registry.ReferencedManifestUnknown: (BadRequest, "referenced_images_not_found"),
    registry.DigestMismatch: (BadRequest, "image_digest_does_not_match"),
    registry.ManifestTooLarge: (exceptions.ValidationError, "max_length"),
    scanning.ScanLimitExceeded: (BadRequest, "limit_exceeded"),
    scanning.ImageNotScannable: (BadRequest, "unsupported_image_type"),
    scanning.InventoryMissing: (exceptions.NotFound, "scan_not_found"),
    lifecycle.LifecyclePolicyInvalid: (exceptions.ValidationError, "invalid_parameter"),
    registry_policies.RegistryPolicyInvalid: (exceptions.ValidationError, "policy_invalid"),
    registry_policies.RegistryPolicyNotFound: (exceptions.NotFound, "registry_policy_not_found"),
    creation_templates.CreationTemplateNotFound: (exceptions.NotFound, "template_not_found"),
    creation_templates.CreationTemplateExists: (Conflict, "template_already_exists"),
    lifecycle.LifecyclePolicyNotFound: (exceptions.NotFound, "lifecycle_policy_not_found"),
    lifecycle.LifecyclePreviewNotFound: (exceptions.NotFound, "lifecycle_policy_preview_not_found"),
    DomainError: (exceptions.ValidationError, "invalid"),
}


def _nearest(table: dict, error_class: type, default=None):
    return next((table[cls] for cls in error_class.__mro__ if cls in table), default)


def domain_error(error: DomainError, view) -> exceptions.APIException:
    """What a refusal of the domain is in the management API."""
    kind, code = _nearest(DOMAIN_ERRORS, type(error))
    if kind is exceptions.ValidationError:
        field = _nearest(getattr(view, "domain_error_fields", {}), type(error), api_settings.NON_FIELD_ERRORS_KEY)
        return exceptions.ValidationError({field: [ErrorDetail(error.message, code=code)]})
    return kind(error.message, code=code)


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    elif out_of_space(exc):
        logger.error("storage full: %s", exc)
        exc = InsufficientStorage()
    elif isinstance(exc, DomainError):
        exc = domain_error(exc, context.get("view"))
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = error_body(exc)
    return response

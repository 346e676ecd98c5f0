"""Shapes every endpoint shares, for the OpenAPI description."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="the input field, dotted into lists and objects (`tags.0.key`)")
    code = serializers.CharField(help_text="DRF's code: `required`, `invalid`, `max_length`, `invalid_choice`, ...")
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="stable, machine-readable: `invalid`, `not_authenticated`, `authentication_failed`, "
        "`permission_denied`, `not_found`, `throttled`, `repository_already_exists`, `repository_not_empty`, "
        "`access_key_limit_exceeded`, `repository_not_public`, `parse_error`, `json_too_deep`, `request_too_large`, ..."
    )
    detail = serializers.CharField(help_text="for people")
    errors = FieldErrorSerializer(many=True, required=False, help_text="validation errors only")


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The error responses an operation documents, besides 401/403/429 that every one may give (and 413
    `request_too_large` for a JSON body over BERTH_API_MAX_JSON_BYTES)."""
    described = {
        400: "invalid input (`code` is `invalid`; `errors` says which field and why)",
        401: "no or wrong credentials",
        403: "not allowed (or, for a session, a missing CSRF token)",
        404: "no such resource in the caller's account",
        409: "the resource's state refuses the request",
        429: "too many requests; see Retry-After",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=described[code]) for code in statuses}

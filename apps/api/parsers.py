"""The management API's JSON parser: DRF's, with limits checked before parsing."""

from __future__ import annotations

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail, ParseError, ValidationError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.settings import api_settings
from rest_framework.utils import json

from apps.kernel import json_limits


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the request body is too large"
    default_code = "request_too_large"


class LimitedJSONParser(JSONParser):
    """JSON bodies of at most BERTH_API_MAX_JSON_BYTES (or the view's
    ``max_json_bytes``, for one that takes more), nested at most BERTH_MAX_JSON_DEPTH
    deep, with no NUL character in any string or key (PostgreSQL stores none).

    Refusals: 413 `request_too_large`; 400 `json_too_deep`; 400 `invalid` naming
    where the NUL is, as a CharField refuses one (`null_characters_not_allowed`)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = getattr(parser_context.get("view"), "max_json_bytes", settings.BERTH_API_MAX_JSON_BYTES)
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise RequestTooLarge(f"the request body is larger than {limit} bytes, the limit")
        try:
            text = body.decode(get_encoding(parser_context))
            json_limits.check_depth(text, settings.BERTH_MAX_JSON_DEPTH)
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except json_limits.JSONTooDeep as exc:
            raise ParseError(f"the JSON body {exc}", code="json_too_deep") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if (where := json_limits.nul_path(text, data)) is not None:
            error = ErrorDetail("Null characters are not allowed.", code="null_characters_not_allowed")
            raise ValidationError({where or api_settings.NON_FIELD_ERRORS_KEY: [error]})
        return data

"""AuditMiddleware: every request gets its context (apps.kernel.requests: the
client address, worked out behind trusted proxies, and an id, returned as
X-Request-Id), and the event its handlers started is finished from the response
and handed to the recorder. Audit trouble is logged, never allowed to break the
response."""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus

from django.http import HttpRequest, HttpResponseBase

from apps.kernel.requests import begin_request

from . import events, recorder
from .models import ERROR_MESSAGE_MAX_LENGTH, Event

logger = logging.getLogger(__name__)

ACCESS_DENIED = "AccessDenied"
# An error body larger than this is not read for its code (a real one is far smaller).
ERROR_BODY_READ_LIMIT = 64 * 1024


def _new_request_id() -> str:
    return events.new_id().hex


class AuditMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        context = begin_request(request, _new_request_id)
        response = self.get_response(request)
        response["X-Request-Id"] = context.request_id
        draft = events.current(request)
        if draft is not None:
            try:
                self._finish(draft, response)
            except Exception:
                logger.exception("could not record audit event %s of request %s", draft.event_name, context.request_id)
        return response

    @staticmethod
    def _finish(draft: events.EventDraft, response: HttpResponseBase) -> None:
        if draft.recorded:
            # Recorded with its change, unless that transaction rolled back: then the
            # request failed, and is recorded below as a failed write.
            if response.status_code < 400 or Event.objects.filter(event_id=draft.event_id).exists():
                return
            draft.recorded = False
        if not draft.error_code and response.status_code >= 400:
            draft.error_code, draft.error_message = response_error(response)
        recorder.submit(draft)


def response_error(response: HttpResponseBase) -> tuple[str, str]:
    """(error code, message) of a failed response: AccessDenied for 401 and 403;
    otherwise the code of the OCI error envelope (/v2/, /token) or of the
    management API's error body (/api/), or one made from the status when the body
    says nothing readable."""
    code, message = _body_error(response)
    if response.status_code in (401, 403):
        return ACCESS_DENIED, message or code
    if code:
        return code, message
    try:
        phrase = HTTPStatus(response.status_code).phrase
    except ValueError:
        phrase = "Error"
    if response.status_code >= 500:
        return "InternalFailure", phrase
    return "".join(word.capitalize() for word in re.split(r"[\s-]+", phrase)), phrase


def _body_error(response: HttpResponseBase) -> tuple[str, str]:
    if response.streaming or "json" not in response.get("Content-Type", ""):
        return "", ""
    content = response.content
    if not content or len(content) > ERROR_BODY_READ_LIMIT:
        return "", ""
    try:
        body = json.loads(content)
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    if isinstance(body.get("code"), str):  # the management API's {"code", "detail", "errors"?}
        return body["code"], str(body.get("detail") or "")[:ERROR_MESSAGE_MAX_LENGTH]
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):  # OCI's {"errors": [{"code", "message"}]}
        first = errors[0]
        return str(first.get("code") or ""), str(first.get("message") or "")[:ERROR_MESSAGE_MAX_LENGTH]
    return "", ""

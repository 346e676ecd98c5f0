"""AuditMiddleware: every request gets an id and a client address, and the event
its handlers started is finished from the response and handed to the recorder.

The id (uuid4 hex) is returned as X-Request-Id; an incoming X-Request-Id is kept
only from a trusted proxy. X-Forwarded-For is believed only when the peer
(REMOTE_ADDR) is one of BERTH_TRUSTED_PROXIES, and then read right to left past
every trusted hop: the first address not ours is the client. Audit trouble is
logged, never allowed to break the response."""
from __future__ import annotations

import ipaddress
import json
import logging
import re
from functools import lru_cache
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from . import events, recorder
from .models import ERROR_MESSAGE_MAX_LENGTH, REQUEST_ID_MAX_LENGTH, Event

logger = logging.getLogger(__name__)

ACCESS_DENIED = "AccessDenied"
_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:\-]{{1,{REQUEST_ID_MAX_LENGTH}}}")
# An error body larger than this is not read for its code (a real one is far smaller).
ERROR_BODY_READ_LIMIT = 64 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def trusted_networks(setting: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in setting.split(",") if cidr.strip())


def parse_address(text: str) -> IPAddress | None:
    """An address as proxies write it (`1.2.3.4`, `1.2.3.4:5678`, `[::1]:5678`, `::1`),
    IPv4-mapped IPv6 as IPv4; None for anything else."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted(address: IPAddress | None) -> bool:
    if address is None:
        return False
    return any(address in network for network in trusted_networks(settings.BERTH_TRUSTED_PROXIES))


def client_address(remote_addr: str, forwarded_for: str) -> str:
    """The client's address: REMOTE_ADDR, unless that is a trusted proxy; then the
    first X-Forwarded-For entry from the right that is not a trusted proxy (an
    unreadable entry stops the walk at the hop that wrote it)."""
    if not settings.BERTH_TRUSTED_PROXIES:
        return remote_addr  # no proxy is believed: the common case needs no parsing
    peer = parse_address(remote_addr)
    if not is_trusted(peer) or not forwarded_for.strip():
        return str(peer) if peer is not None else remote_addr
    client = peer
    for entry in reversed(forwarded_for.split(",")):
        address = parse_address(entry)
        if address is None:
            break
        client = address
        if not is_trusted(address):
            break
    return str(client)


class AuditMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        remote_addr = request.META.get("REMOTE_ADDR", "")
        request.berth_client_ip = client_address(remote_addr, request.META.get("HTTP_X_FORWARDED_FOR", ""))
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        if incoming and is_trusted(parse_address(remote_addr)) and _REQUEST_ID.fullmatch(incoming):
            request.berth_request_id = incoming
        else:
            request.berth_request_id = events.new_id().hex
        response = self.get_response(request)
        response["X-Request-Id"] = request.berth_request_id
        draft = events.current(request)
        if draft is not None:
            try:
                self._finish(draft, response)
            except Exception:
                logger.exception(
                    "could not record audit event %s of request %s", draft.event_name, request.berth_request_id
                )
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

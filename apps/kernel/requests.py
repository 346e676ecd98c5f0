"""What Berth knows about the HTTP request a piece of work serves: who is on the
other end (``client_ip``), the request's id and the user agent, worked out once
per request as a ``RequestContext``. Work that no request asked for (a lifecycle
expiry, a replication copy, a scan) has no context.

X-Forwarded-For is believed only when the peer (REMOTE_ADDR) is one of
BERTH_TRUSTED_PROXIES, and then read right to left past every trusted hop: the
first address not ours is the client. An incoming X-Request-Id is kept only from
a trusted proxy too."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

REQUEST_ID_MAX_LENGTH = 128
USER_AGENT_MAX_LENGTH = 1024
# The prefix length that one IPv6 subscriber is given (and the least any is).
IPV6_CLIENT_PREFIX = 64

_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:\-]{{1,{REQUEST_ID_MAX_LENGTH}}}")
# Where the context is kept on the (Django) request.
_ATTRIBUTE = "berth_context"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, eq=False)
class RequestContext:
    """One request's circumstances, as the audit trail and the throttles record
    them. Compared by identity: each request has its own, even when two requests'
    values agree."""

    client_ip: str
    user_agent: str
    request_id: str


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


@lru_cache(maxsize=4096)
def address_group(address: str) -> str:
    """Whose requests count together, for the sign-in throttles and the audit
    trail's tally of failures: an IPv4 address (an IPv4-mapped IPv6 one as IPv4),
    or the /64 network of an IPv6 address, since a caller with one IPv6 address
    has its whole /64 to choose from. Anything else (no address) as it is."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(parsed)


def begin_request(request: HttpRequest, new_request_id: Callable[[], str]) -> RequestContext:
    """Work out ``request``'s context and keep it on the request: the first thing
    the request's middleware does. ``new_request_id`` names a request that comes
    without an id from a trusted proxy."""
    meta = request.META
    remote_addr = meta.get("REMOTE_ADDR", "")
    incoming = meta.get("HTTP_X_REQUEST_ID", "")
    trusted_id = incoming and is_trusted(parse_address(remote_addr)) and _REQUEST_ID.fullmatch(incoming)
    context = RequestContext(
        client_ip=client_address(remote_addr, meta.get("HTTP_X_FORWARDED_FOR", "")),
        user_agent=meta.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX_LENGTH],
        request_id=incoming if trusted_id else new_request_id(),
    )
    setattr(request, _ATTRIBUTE, context)
    return context


def request_context(request) -> RequestContext:
    """The context of ``request`` (a Django or DRF request): the one its middleware
    worked out; for a request that passed no middleware (a test's), one worked out
    now, without a request id."""
    request = getattr(request, "_request", request)
    context = getattr(request, _ATTRIBUTE, None)
    if context is None:
        context = begin_request(request, lambda: "")
    return context


def client_ip(request) -> str:
    """The caller's address (see client_address)."""
    return request_context(request).client_ip

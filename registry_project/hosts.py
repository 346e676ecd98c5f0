"""Which host names Berth answers to (ALLOWED_HOSTS) when the operator does not
say, and the warning `berth serve` gives when it listens where those names
cannot reach it."""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

# `berth serve` listens on 127.0.0.1:5000 by default: the names a browser or a
# registry client on that host uses for it.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def allowed_hosts(configured: str, public_url: str) -> list[str]:
    """ALLOWED_HOSTS: the comma-separated ``configured`` list when there is one;
    else the host of ``public_url`` (BERTH_PUBLIC_URL); else the loopback names."""
    hosts = [host.strip() for host in configured.split(",") if host.strip()]
    if hosts:
        return hosts
    public_host = urlsplit(public_url).hostname if public_url else None
    if public_host:
        return [f"[{public_host}]" if ":" in public_host else public_host]
    return list(LOOPBACK_HOSTS)


def _bind_host(bind: str) -> str | None:
    """The host part of a gunicorn bind address (`host:port`, `[v6]:port`, `host`);
    None for a unix socket or file descriptor, which no Host header names."""
    if bind.startswith(("unix:", "fd://")):
        return None
    if bind.startswith("["):
        return bind[1 : bind.find("]")]
    host, _, port = bind.rpartition(":")
    return host if port.isdigit() else bind


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_warning(bind: str, *, configured: str, public_url: str) -> str | None:
    """What `berth serve --bind <bind>` should warn about: listening on a wildcard
    or outside address while answering only the loopback names (neither
    ALLOWED_HOSTS nor BERTH_PUBLIC_URL is set), so that everyone who reaches it
    from elsewhere gets 400."""
    if configured.strip() or public_url:
        return None
    host = _bind_host(bind)
    if host is None or _is_loopback(host):
        return None
    return (
        f"berth serve listens on {bind} but answers only requests for {', '.join(LOOPBACK_HOSTS)}: "
        "set BERTH_PUBLIC_URL to the URL clients use (https://registry.example.com), or ALLOWED_HOSTS "
        "to the host names they use, or every other client gets 400 Bad Request"
    )


class RefusedHostLogFilter(logging.Filter):
    """A request for a host Berth does not serve is its client's mistake (or a
    scanner's), not a fault of Berth's: Django's error with a traceback becomes one
    warning line that names the host."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True

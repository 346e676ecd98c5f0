"""The operator's endpoints, answered in front of Django (registry_project/wsgi.py):
``/healthz``, ``/readyz`` and ``/metrics``.

In front of Django because none of them is a user's request: no host check (a
Kubernetes probe names the pod's address, which ALLOWED_HOSTS does not list),
no session, no audit event, and no count in the request metrics. None of them
builds a URL from the request, so the Host header is never used.

``/metrics`` on the web listener needs ``Authorization: Bearer
<BERTH_METRICS_TOKEN>`` (401 without it); with no token set it is 404 there, and
is served only by the separate listener of BERTH_METRICS_BIND, which
`berth serve` (and `berth worker`, for its own counters) runs in a thread. That
listener checks the token too when one is set."""

from __future__ import annotations

import hmac
import json
import logging
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.conf import settings
from django.db import close_old_connections, connection
from prometheus_client.exposition import ThreadingWSGIServer

from . import health, logs, metrics

logger = logging.getLogger(__name__)

PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _answer(start_response, status: str, body: bytes, content_type: str, headers=()) -> list[bytes]:
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            *headers,
        ],
    )
    return [body]


def _json(start_response, status: str, document: dict, headers=()) -> list[bytes]:
    return _answer(start_response, status, json.dumps(document).encode() + b"\n", "application/json", headers)


def _token_matches(environ) -> bool:
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, presented = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), settings.BERTH_METRICS_TOKEN.encode()
    )


class OpsApplication:
    """Answers PATHS; hands every other request to ``application`` (Django's, or
    a 404 on the metrics listener). ``listener``: this is BERTH_METRICS_BIND's
    listener, where /metrics needs the token only if one is set; ``state``: a
    scrape includes the gauges read from the database, Redis and the spool (not on
    a worker's listener: the web's scrape has them)."""

    def __init__(self, application, *, listener: bool = False, state: bool = True) -> None:
        self.application = application
        self.listener = listener
        self.state = state

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path not in PATHS:
            logs.request_id.set("")
            return self.application(environ, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _json(start_response, "405 Method Not Allowed", {"error": "GET only"}, [("Allow", "GET, HEAD")])
        if path == "/healthz":
            return _json(start_response, "200 OK", health.liveness())
        if path == "/readyz":
            return self._readyz(start_response)
        return self._metrics(environ, start_response)

    def _readyz(self, start_response):
        ready, checks = health.readiness()
        if ready:
            return _json(start_response, "200 OK", {"status": "ready", "checks": checks})
        failed = sorted(name for name, result in checks.items() if result != "ok")
        logger.warning("not ready: %s", "; ".join(f"{name}: {checks[name]}" for name in failed))
        return _json(
            start_response, "503 Service Unavailable", {"status": "not ready", "failed": failed, "checks": checks}
        )

    def _metrics(self, environ, start_response):
        token = settings.BERTH_METRICS_TOKEN
        if not token and not self.listener:
            return _json(
                start_response,
                "404 Not Found",
                {"error": "metrics are not served here: set BERTH_METRICS_TOKEN, or scrape BERTH_METRICS_BIND"},
            )
        if token and not _token_matches(environ):
            return _json(
                start_response,
                "401 Unauthorized",
                {"error": "metrics need Authorization: Bearer <BERTH_METRICS_TOKEN>"},
                [("WWW-Authenticate", 'Bearer realm="berth-metrics"')],
            )
        _close_old_connections()
        try:
            body = metrics.exposition(state=self.state)
        finally:
            if self.listener:
                # the listener serves each request in a thread of its own: its connection goes with it
                connection.close()
            else:
                _close_old_connections()
        return _answer(start_response, "200 OK", body, metrics.CONTENT_TYPE_LATEST)


def _not_found(environ, start_response):
    return _json(start_response, "404 Not Found", {"error": "this listener serves /metrics, /healthz and /readyz"})


def _close_old_connections() -> None:
    """What Django's handler does around a request (this answers before it): drop a
    connection past its age or broken. Not inside a transaction (a test's)."""
    if not connection.in_atomic_block:
        close_old_connections()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:  # scrapes every few seconds are not news
        return None


def parse_bind(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"BERTH_METRICS_BIND must be host:port, not {bind!r}")
    return host.strip("[]"), int(port)


def start_listener(bind: str, *, state: bool = True):
    """Serve OpsApplication on ``bind`` from a daemon thread; returns the server
    (``shutdown()`` stops it)."""
    host, port = parse_bind(bind)
    server = make_server(
        host, port, OpsApplication(_not_found, listener=True, state=state), ThreadingWSGIServer, _QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="berth-metrics-listener", daemon=True)
    thread.start()
    logger.info("metrics on http://%s:%d/metrics", host, server.server_port)
    return server

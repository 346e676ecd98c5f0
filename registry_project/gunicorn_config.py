"""gunicorn's configuration file for `berth serve` (``--config
python:registry_project.gunicorn_config``): the server hooks, and JSON logs when
BERTH_LOG_FORMAT=json.

- ``worker_exit``: a worker that exits writes its buffered audit events
  (apps/audit/gunicorn_hooks.py).
- ``child_exit``: the arbiter tells prometheus_client's multiprocess mode that a
  worker is gone (its counters stay in the sum, its live gauges go)."""

from __future__ import annotations

import os

from gunicorn import glogging
from prometheus_client import multiprocess as prometheus_multiprocess

from apps.audit.gunicorn_hooks import worker_exit  # noqa: F401 (a hook gunicorn reads from here)
from registry_project.instruments import multiprocess
from registry_project.logs import JsonFormatter


def child_exit(server, worker) -> None:
    if multiprocess():
        prometheus_multiprocess.mark_process_dead(worker.pid)


class GunicornJsonLogger(glogging.Logger):
    """gunicorn's error and access logs as JSON lines (`berth serve` with
    BERTH_LOG_FORMAT=json). The access line keeps `berth serve`'s format as its
    message, and takes the request id from the response's X-Request-Id."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        formatter = JsonFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

    def access(self, resp, req, environ, request_time) -> None:
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.logconfig_dict or self.cfg.syslog):
            return
        atoms = self.atoms(resp, req, environ, request_time)
        request = ""
        for name, value in resp.headers:
            if name.lower() == "x-request-id":
                request = value
                break
        try:
            self.access_log.info(
                self.cfg.access_log_format % atoms,
                extra={
                    "request_id": request,
                    "status": resp.status_code,
                    "method": environ.get("REQUEST_METHOD", ""),
                    "duration_ms": request_time.seconds * 1000 + request_time.microseconds // 1000,
                },
            )
        except Exception:
            self.exception("Failed to log an access line")


if os.environ.get("BERTH_LOG_FORMAT", "text") == "json":
    logger_class = GunicornJsonLogger

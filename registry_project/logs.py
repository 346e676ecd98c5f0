"""Logs: with BERTH_LOG_FORMAT=json every record is one JSON object on a line of its
own (time, level, logger, message, request_id, and the exception's traceback as
text under ``exception``), for the web (Django and gunicorn's error and access
logs), the worker and the scheduler. The default, ``text``, is unchanged.

The request id is the audit trail's (apps.kernel.requests, returned as
X-Request-Id): RequestMetricsMiddleware puts it in ``request_id`` (a context
variable, so each gunicorn thread has its own) and ``RequestIdFilter`` copies it
onto each record. registry_project/ops.py clears it when the next request starts."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

request_id: ContextVar[str] = ContextVar("berth_request_id", default="")

#: LogRecord attributes that are the record's own, not ``extra=`` fields.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    """Gives each record the id of the request its thread serves ("" outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a record: time (UTC, ISO 8601), level, logger, message,
    request_id, exception (the traceback, when there is one), and whatever the
    caller passed in ``extra``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or request_id.get(),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_") and key not in entry:
                entry[key] = value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
        return json.dumps(entry, ensure_ascii=False)


def configure(logging_settings: dict, log_format: str) -> dict:
    """Django's LOGGING for ``log_format`` ("text": as it is; "json": the console
    handler writes JsonFormatter's lines and carries the request id)."""
    if log_format != "json":
        return logging_settings
    logging_settings["formatters"]["json"] = {"()": "registry_project.logs.JsonFormatter"}
    logging_settings["filters"]["request_id"] = {"()": "registry_project.logs.RequestIdFilter"}
    console = logging_settings["handlers"]["console"]
    console["formatter"] = "json"
    console["filters"] = [*console.get("filters", []), "request_id"]
    return logging_settings


class JsonLines:
    """A text stream whose every line is written as a JSON log line (`berth serve`'s
    own lines about its children, in json mode)."""

    def __init__(self, stream, logger_name: str) -> None:
        self._stream = stream
        self._logger = logger_name
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.strip():
                entry = {
                    "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "level": "INFO",
                    "logger": self._logger,
                    "message": line,
                    "request_id": "",
                }
                self._stream.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending.strip():
            self.write("\n")
        self._stream.flush()

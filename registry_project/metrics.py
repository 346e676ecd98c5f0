"""/metrics: what the processes counted (registry_project/instruments.py), summed
over every process that wrote to PROMETHEUS_MULTIPROC_DIR, and what the scrape
reads at its own time (``StateCollector``): uploads in progress, the Celery
queue's depth, the audit spool's lag, image scans by status.

``RequestMetricsMiddleware`` counts each request by route (Django's URL pattern,
made readable: ``v2/<name>/blobs/<digest>``), method and status, its latency to
the response's head, and its body bytes in and out by route class. It also puts
the request's id (the audit trail's, apps.kernel.requests) where the log records
find it (registry_project/logs.py).

Every read here is bounded: a COUNT over an index or a GROUP BY over a small
column, a Redis LLEN per priority list, a stat per spool file (one per process)
and at most SPOOL_LINE_READ bytes of each file with events waiting."""

from __future__ import annotations

import logging
import os
import re
import time
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from celery import signals
from django.conf import settings
from django.db.models import Count, Q
from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily

from apps.audit import spool
from apps.audit.models import SpoolCursor
from apps.kernel.requests import request_context
from apps.registry.models import Upload
from apps.scanning.models import ImageScan, ScanStatus

from . import instruments, logs

logger = logging.getLogger(__name__)

#: An upload whose row changed within this many seconds is in progress (a chunk
#: arrived); older ones wait for their client or for the expiry sweep.
UPLOAD_ACTIVE_SECONDS = 300
#: How much of a spool file the lag reads to find its oldest waiting event.
SPOOL_LINE_READ = 64 * 1024
#: kombu's Redis transport keeps a queue's messages of priority p > 0 in "<queue>\x06\x16<p>".
REDIS_PRIORITY_SEPARATOR = "\x06\x16"
REDIS_PRIORITY_STEPS = (0, 3, 6, 9)
#: Methods counted by name; any other is "other" (a label's values stay few).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_GROUP = re.compile(r"\(\?P<([a-z_][a-z0-9_]*)>(?:[^()]|\([^()]*\))*\)", re.IGNORECASE)


# -- requests -----------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def readable_route(route: str) -> str:
    """A URL pattern as a label: ``^v2/(?P<name>[^?#]+?)/blobs/(?P<digest>[^/]+)$`` is
    ``v2/<name>/blobs/<digest>``; a path() pattern stays as it is."""
    route = _GROUP.sub(lambda match: f"<{match.group(1)}>", route)
    return route.replace("^", "").replace("$", "").replace("/?", "/") or "/"


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None or match.route is None:
        if request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return "static"
        return "(unmatched)"
    return readable_route(match.route)


def route_class(route: str, method: str) -> str:
    """The kind of traffic, for the byte counters."""
    if route.startswith("v2/"):
        if "/blobs/uploads" in route:
            return "upload"
        if "/blobs/" in route:
            return "blob"
        if "/manifests/" in route:
            return "manifest"
        return "registry"
    if route == "token":
        return "registry"
    if route.startswith("api/"):
        return "api"
    if route == "/" and method == "POST":
        return "aws"  # the AWS API's signed POST / (registry_project/urls.py root)
    if route == "static":
        return "static"
    return "page"


def request_body_bytes(request: HttpRequest) -> int:
    """How much of the body the application read: the declared length less what
    gunicorn's reader still holds back (a refused upload leaves its body unread);
    for a chunked body, what the counting stream passed on."""
    meta = request.META
    stream = meta.get("wsgi.input")
    if isinstance(stream, CountingInput):
        return stream.count
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
    reader = getattr(stream, "reader", None)
    remaining = getattr(reader, "length", None)  # gunicorn's LengthReader: bytes not yet read
    if isinstance(remaining, int):
        return max(0, declared - remaining)
    return declared


def response_body_bytes(request: HttpRequest, response: HttpResponseBase) -> int:
    """The body's bytes: the declared length of a file (FileResponse goes out by
    sendfile, which nothing may wrap) or any streamed body that declares one, the
    content of the rest; nothing for HEAD."""
    if request.method == "HEAD":
        return 0
    if response.streaming:
        length = response.get("Content-Length")
        if length is not None and length.isdigit():
            return int(length)
        if isinstance(response, FileResponse):
            return 0
        response.streaming_content = _counted(response.streaming_content, request)
        return 0
    return len(response.content)


def _counted(chunks, request):
    """A streamed body of unknown length (a chunked response), counted as it goes out."""
    labels = instruments.BYTES_OUT.labels(route_class(route_of(request), request.method), _method(request))
    for chunk in chunks:
        labels.inc(len(chunk))
        yield chunk


class CountingInput:
    """A chunked request body (gunicorn decodes it) that counts what it hands out.
    Length-delimited bodies are not wrapped: the registry reads them straight from
    the socket (apps/registry/v2/bodies.py), which needs gunicorn's own object."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._stream.readline(size)
        self.count += len(data)
        return data

    def __iter__(self):
        for line in self._stream:
            self.count += len(line)
            yield line


def _method(request: HttpRequest) -> str:
    return request.method if request.method in _METHODS else "other"


@lru_cache(maxsize=4096)
def _children(route: str, method: str, status: int):
    """The labelled series a request adds to, looked up once per (route, method,
    status): prometheus_client's labels() validates and locks on every call."""
    kind = route_class(route, method)
    return (
        instruments.REQUESTS.labels(route, method, str(status)),
        instruments.REQUEST_SECONDS.labels(route, method),
        instruments.BYTES_IN.labels(kind, method),
        instruments.BYTES_OUT.labels(kind, method),
    )


class RequestMetricsMiddleware:
    """Counts each request (see the module's doc). Placed right after
    AuditMiddleware, which gives the request its id."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        logs.request_id.set(request_context(request).request_id)
        meta = request.META
        if meta.get("HTTP_TRANSFER_ENCODING") and "wsgi.input" in meta:
            meta["wsgi.input"] = CountingInput(meta["wsgi.input"])
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        try:
            route = route_of(request)
            method = _method(request)
            counted, timed, bytes_in, bytes_out = _children(route, method, response.status_code)
            counted.inc()
            timed.observe(elapsed)
            received = request_body_bytes(request)
            if received:
                bytes_in.inc(received)
            sent = response_body_bytes(request, response)
            if sent:
                bytes_out.inc(sent)
        except Exception:
            logger.exception("could not count request %s", request.path_info[:200])
        return response


# -- the state read at scrape time ----------------------------------------------------------------


class StateCollector:
    """Gauges read when scraped. Each source is read on its own: one that fails
    (Redis down) is logged and reported as ``berth_metrics_source_up{source} 0``,
    and the others still answer."""

    def describe(self):
        return []

    def collect(self):
        up = GaugeMetricFamily(
            "berth_metrics_source_up", "Whether the scrape could read a source (1) or not (0).", labels=["source"]
        )
        seconds = GaugeMetricFamily(
            "berth_metrics_source_seconds", "Seconds the scrape took to read a source.", labels=["source"]
        )
        for source, read in (
            ("uploads", _uploads),
            ("queue", _queue_depths),
            ("audit_spool", _audit_spool),
            ("scans", _scans),
        ):
            started = time.perf_counter()
            try:
                families = list(read())
            except Exception as error:
                logger.warning("metrics: could not read %s: %s", source, error)
                families, ok = [], 0
            else:
                ok = 1
            up.add_metric([source], ok)
            seconds.add_metric([source], time.perf_counter() - started)
            yield from families
        yield up
        yield seconds


def _uploads():
    active_since = timezone.now() - timedelta(seconds=UPLOAD_ACTIVE_SECONDS)
    counts = Upload.objects.aggregate(open=Count("pk"), active=Count("pk", filter=Q(updated_at__gte=active_since)))
    yield GaugeMetricFamily("berth_uploads_open", "Upload sessions not yet finished or expired.", counts["open"])
    yield GaugeMetricFamily(
        "berth_uploads_in_progress",
        f"Upload sessions that received data in the last {UPLOAD_ACTIVE_SECONDS} seconds.",
        counts["active"],
    )


def _queue_depths():
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    family = GaugeMetricFamily(
        "berth_celery_queue_length", "Tasks waiting in the broker's queue for a worker.", labels=["queue"]
    )
    family.add_metric([queue], queue_length(queue))
    yield family


def queue_length(queue: str) -> int:
    """Messages waiting in ``queue``: Redis lists (one per priority) when REDIS_URL
    is set, else the embedded filesystem broker's message files."""
    if settings.REDIS_URL:
        client = _redis()
        with client.pipeline(transaction=False) as pipe:
            for priority in REDIS_PRIORITY_STEPS:
                pipe.llen(queue if not priority else f"{queue}{REDIS_PRIORITY_SEPARATOR}{priority}")
            return sum(pipe.execute())
    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in")
    if not folder or not os.path.isdir(folder):
        return 0
    suffix = f".{queue}.msg"
    with os.scandir(folder) as entries:
        return sum(1 for entry in entries if entry.name.endswith(suffix))


@lru_cache(maxsize=1)
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1.0, socket_connect_timeout=1.0)


def _audit_spool():
    files, waiting, oldest = spool_backlog(Path(settings.BERTH_AUDIT_SPOOL_DIR))
    yield GaugeMetricFamily(
        "berth_audit_spool_files_waiting", "Audit spool files holding events not yet ingested.", files
    )
    yield GaugeMetricFamily("berth_audit_spool_bytes_waiting", "Bytes of audit spool lines not yet ingested.", waiting)
    lag = max(0.0, (timezone.now() - oldest).total_seconds()) if oldest is not None else 0.0
    yield GaugeMetricFamily(
        "berth_audit_spool_lag_seconds", "Age of the oldest spooled audit event not yet in the trail (0: none).", lag
    )


def spool_backlog(directory: Path):
    """(files with events waiting, bytes waiting, the oldest waiting event's time or
    None) of this host's spool directory, from each file's size and its cursor."""
    if not directory.is_dir():
        return 0, 0, None
    sizes = {}
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.endswith(spool.SUFFIX):
                try:
                    sizes[entry.name] = entry.stat().st_size
                except FileNotFoundError:  # ingested and removed meanwhile
                    continue
    if not sizes:
        return 0, 0, None
    try:
        owner = (directory / spool.ID_NAME).read_text().strip()
    except FileNotFoundError:
        owner = ""  # no ingester has run here yet
    offsets = dict(SpoolCursor.objects.filter(owner="", name__in=list(sizes)).values_list("name", "offset"))
    if owner:
        offsets.update(SpoolCursor.objects.filter(owner=owner, name__in=list(sizes)).values_list("name", "offset"))
    files = waiting = 0
    oldest = None
    for name, size in sizes.items():
        offset = offsets.get(name, 0)
        if size <= offset:
            continue
        files += 1
        waiting += size - offset
        moment = _first_event_time(directory / name, offset)
        if moment is not None and (oldest is None or moment < oldest):
            oldest = moment
    return files, waiting, oldest


def _first_event_time(path: Path, offset: int):
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(SPOOL_LINE_READ)
    except FileNotFoundError:
        return None
    end = data.find(b"\n")
    if end < 0:
        return None
    try:
        return spool.decode(data[: end + 1]).event_time
    except spool.BadLine:
        return None


IN_FLIGHT = (ScanStatus.PENDING, ScanStatus.IN_PROGRESS)


def _scans():
    """Scans waiting or running, over the partial index of those: a GROUP BY over
    every scan grows with the registry (~150 ms for 200,000 on PostgreSQL here),
    so finished scans are counted as they finish (``_count_finished_scan``)."""
    family = GaugeMetricFamily(
        "berth_image_scans_in_flight", "Image scans waiting (PENDING) or running (IN_PROGRESS).", labels=["status"]
    )
    counts = dict(
        ImageScan.objects.filter(status__in=IN_FLIGHT).values_list("status").annotate(count=Count("pk")).order_by()
    )
    for status in IN_FLIGHT:
        family.add_metric([status], counts.get(status, 0))
    yield family


SCAN_TASK = "apps.scanning.tasks.scan_image"


@signals.task_postrun.connect(weak=False)
def _count_finished_scan(sender=None, args=None, kwargs=None, state=None, **rest) -> None:
    """After the worker ran a scan task: the status the scan ended in (one query a scan)."""
    if getattr(sender, "name", None) != SCAN_TASK or state != "SUCCESS":
        return
    manifest_id = (kwargs or {}).get("manifest_id", (args or [None])[0])
    try:
        status = ImageScan.objects.filter(manifest_id=manifest_id).values_list("status", flat=True).first()
    except Exception as error:
        logger.warning("metrics: could not read the scan of manifest %s: %s", manifest_id, error)
        return
    if status is not None and status not in IN_FLIGHT:
        instruments.SCANS_FINISHED.labels(status).inc()


# -- the exposition -----------------------------------------------------------------------------


def exposition(*, state: bool = True) -> bytes:
    """The scrape's body: every process's counters (summed over the multiprocess
    directory when there is one), then, with ``state``, the gauges read now."""
    parts = []
    directory = os.environ.get(instruments.MULTIPROC_VARIABLE)
    if directory:
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry, path=directory)
        parts.append(generate_latest(registry))
    else:
        parts.append(generate_latest(REGISTRY))
    if state:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StateCollector())
        parts.append(generate_latest(registry))
    return b"".join(parts)


__all__ = ["CONTENT_TYPE_LATEST", "RequestMetricsMiddleware", "exposition"]

"""The metrics every process records as it works (Prometheus, prometheus_client),
and the Celery signals that count the worker's task outcomes.

No Django model is imported here: registry_project/celery.py imports this module
while the settings load. What a scrape reads from the database, Redis and the
spool at the time of the scrape is registry_project/metrics.py's.

Under `berth serve` and `berth worker` every process writes its values to files in
PROMETHEUS_MULTIPROC_DIR (set by those commands, under BERTH_METRICS_DIR, before any
child starts), and a scrape sums the files of all processes, living and dead
(prometheus_client's multiprocess mode). Without it (tests, `manage.py shell`) the
values live in this process's memory."""

from __future__ import annotations

import os

from celery import signals
from prometheus_client import Counter, Histogram
from prometheus_client import multiprocess as prometheus_multiprocess

#: The environment variable prometheus_client's multiprocess mode reads at import.
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# Seconds to the response's head (a streamed body's time is the client's): an API call
# or a manifest takes milliseconds, a blob upload's PATCH or PUT up to minutes.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

REQUESTS = Counter(
    "berth_http_requests",
    "HTTP requests answered, by route (the URL pattern, never the path), method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "berth_http_request_duration_seconds",
    "Seconds from a request's arrival at Django to its response's head, by route and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
BYTES_IN = Counter(
    "berth_http_request_body_bytes",
    "Request body bytes read, by route class (blob, upload, manifest, registry, api, aws, page, static) and method.",
    ["route_class", "method"],
)
BYTES_OUT = Counter(
    "berth_http_response_body_bytes",
    "Response body bytes sent (a file's declared length: blobs go out by sendfile), by route class and method.",
    ["route_class", "method"],
)
TASKS = Counter(
    "berth_celery_tasks",
    "Celery tasks finished by the worker, by task name and outcome (success, failure, retry).",
    ["task", "outcome"],
)
SCANS_FINISHED = Counter(
    "berth_image_scans_finished",
    "Image scans the worker finished, by the status they ended in (COMPLETE, FAILED, UNSUPPORTED_IMAGE, ...).",
    ["status"],
)
GC_RUNS = Counter("berth_gc_runs", "Garbage collection passes finished, by kind (collect, reconcile).", ["kind"])
GC_BLOBS = Counter("berth_gc_blobs_deleted", "Blobs the garbage collector deleted from the store.")
GC_BYTES = Counter("berth_gc_bytes_deleted", "Bytes the garbage collector deleted from the store.")
GC_LINKS = Counter(
    "berth_gc_links_dropped", "Repository links to blobs no manifest references, dropped by the collector."
)
GC_ORPHANS = Counter("berth_gc_orphans_found", "Stored blobs with no row, found (and condemned) by reconciliation.")

#: Celery's task names are their module paths: bounded by the code.
_GC_TASKS = {
    "apps.registry.tasks.collect_garbage": "collect",
    "apps.registry.tasks.reconcile_blob_store": "reconcile",
}


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_VARIABLE))


def _task_name(sender) -> str:
    return getattr(sender, "name", None) or "unknown"


@signals.task_success.connect(weak=False)
def _task_succeeded(sender=None, result=None, **kwargs) -> None:
    name = _task_name(sender)
    TASKS.labels(name, "success").inc()
    kind = _GC_TASKS.get(name)
    if kind is not None and isinstance(result, dict):
        count_gc_report(kind, result)


@signals.task_failure.connect(weak=False)
def _task_failed(sender=None, **kwargs) -> None:
    TASKS.labels(_task_name(sender), "failure").inc()


@signals.task_retry.connect(weak=False)
def _task_retried(sender=None, **kwargs) -> None:
    TASKS.labels(_task_name(sender), "retry").inc()


@signals.worker_process_shutdown.connect(weak=False)
def _pool_process_exits(**kwargs) -> None:
    """A prefork pool process that exits: its live gauges go (its counters stay summed)."""
    if multiprocess():
        prometheus_multiprocess.mark_process_dead(os.getpid())


def count_gc_report(kind: str, report: dict) -> None:
    """Count a collector's report (apps.registry.collector.Report.as_dict())."""
    GC_RUNS.labels(kind).inc()
    GC_BLOBS.inc(report.get("blobs") or 0)
    GC_BYTES.inc(report.get("bytes") or 0)
    GC_LINKS.inc(report.get("links") or 0)
    GC_ORPHANS.inc(report.get("orphans") or 0)

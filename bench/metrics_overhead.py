"""What RequestMetricsMiddleware adds to a request: the middleware around a view
that answers at once, against the same view without it, for a manifest GET's
route (prometheus_client's multiprocess mode, as under `berth serve`: every
count is written to an mmap'd file).

    python bench/metrics_overhead.py [--requests 20000]

Prints µs per request with and without the middleware (median of 5 rounds)."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BERTH_DATA_DIR", tempfile.mkdtemp(prefix="berth-bench-"))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="berth-bench-metrics-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")

import django  # noqa: E402

django.setup()

from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.urls import resolve  # noqa: E402

from apps.kernel.requests import begin_request  # noqa: E402
from registry_project.metrics import RequestMetricsMiddleware  # noqa: E402

PATH = "/v2/123456789012/app/manifests/v1"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    count = parser.parse_args().requests
    body = b"{" + b"x" * 1500 + b"}"
    match = resolve(PATH)

    def view(request):
        request.resolver_match = match
        return HttpResponse(body, content_type="application/vnd.oci.image.manifest.v1+json")

    factory = RequestFactory()
    requests = [factory.get(PATH) for _ in range(count)]
    for request in requests:  # as AuditMiddleware, before this one, leaves it
        begin_request(request, lambda: "0123456789abcdef0123456789abcdef")
    wrapped = RequestMetricsMiddleware(view)
    rounds = {"without": [], "with": []}
    for _ in range(5):
        for name, handler in (("without", view), ("with", wrapped)):
            started = time.perf_counter()
            for request in requests:
                handler(request)
            rounds[name].append((time.perf_counter() - started) / count * 1e6)
    without, with_ = statistics.median(rounds["without"]), statistics.median(rounds["with"])
    print(f"per request: {without:.1f} µs without the middleware, {with_:.1f} µs with it: +{with_ - without:.1f} µs")


if __name__ == "__main__":
    main()

"""The Celery app. Redis is the broker when REDIS_URL is set; otherwise the
filesystem transport in the data directory, which needs no server."""

import logging.config
import os
from pathlib import Path

from celery import Celery, signals
from kombu.transport import TRANSPORT_ALIASES

# Counts the worker's task outcomes (Celery's signals) for /metrics.
from registry_project import instruments  # noqa: F401

# The filesystem broker whose messages are published whole (registry_project/broker.py).
TRANSPORT_ALIASES["berth-filesystem"] = "registry_project.broker:Transport"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")

app = Celery("berth")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_broker_folders(sender, **kwargs):
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = sender.conf.broker_transport_options.get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)


@signals.worker_process_init.connect(weak=False)
def _scrape_time_counters(**kwargs):
    """A pool process counts what the tasks' results say (registry_project.metrics:
    how scans ended), which reads the models: imported once the apps are loaded."""
    import registry_project.metrics  # noqa: F401


@signals.worker_ready.connect(weak=False)
def _metrics_listener(sender=None, **kwargs):
    """`berth worker` with BERTH_METRICS_BIND: its own counters on a listener of its
    own (under `berth serve`, serve's listener and the web's /metrics have them)."""
    from django.conf import settings

    if settings.BERTH_METRICS_BIND:
        # late: the apps are loaded only once the worker runs
        from registry_project.ops import start_listener

        start_listener(settings.BERTH_METRICS_BIND, state=False)


if os.environ.get("BERTH_LOG_FORMAT") == "json":
    # The worker and beat log through Django's LOGGING (JSON lines) instead of Celery's own format.
    @signals.setup_logging.connect(weak=False)
    def _django_logging(**kwargs):
        from django.conf import settings

        logging.config.dictConfig(settings.LOGGING)

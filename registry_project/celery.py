"""The Celery app. Redis is the broker when REDIS_URL is set; otherwise the
filesystem transport in the data directory, which needs no server."""

import os
from pathlib import Path

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

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

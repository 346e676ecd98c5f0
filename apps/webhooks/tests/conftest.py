from __future__ import annotations

import pytest

from .receiver import Receiver


@pytest.fixture
def receiver():
    running = Receiver()
    running.url = running.start()
    yield running
    running.stop()


@pytest.fixture
def allow_loopback(settings):
    settings.BERTH_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.BERTH_AUDIT_SYNCHRONOUS = True
    settings.BERTH_WEBHOOK_RETRY_BASE_SECONDS = 0.01
    return settings

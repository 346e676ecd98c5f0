"""`berth webhooks`' rendering and its refusal of an empty update; the commands
against a live server are in tests/e2e/test_webhooks.py (a server of their own,
which allows webhooks to 127.0.0.1)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from berth_cli.app import cli
from berth_cli.commands.webhooks import DELIVERY_COLUMNS, WEBHOOK_COLUMNS, _with_secret
from berth_cli.output import table

pytestmark = pytest.mark.database_independent

WEBHOOK = {
    "webhookId": "b761afdc-8aff-4e16-9afb-642ad08eaf3f",
    "url": "https://ci.example.com/hook",
    "events": ["image.pushed", "tag.moved"],
    "active": True,
    "description": "",
}


def test_the_secret_is_printed_with_what_it_signs():
    said = _with_secret({"webhook": WEBHOOK, "secret": "whsec_abc"})
    assert said.splitlines() == [
        "Webhook b761afdc-8aff-4e16-9afb-642ad08eaf3f delivers image.pushed, tag.moved to https://ci.example.com/hook.",
        "Signing secret (shown this once; keep it where the receiver reads it):",
        "whsec_abc",
    ]


def test_tables():
    assert table([WEBHOOK], WEBHOOK_COLUMNS).splitlines()[1].split() == [
        "b761afdc-8aff-4e16-9afb-642ad08eaf3f", "https://ci.example.com/hook", "image.pushed,", "tag.moved", "yes", "-",
    ]  # fmt: skip
    delivery = {
        "deliveryId": "d1",
        "eventName": "image.pushed",
        "status": "FAILED",
        "attempts": 8,
        "lastStatusCode": 503,
        "latencyMs": 12,
        "createdAt": "2026-12-04T23:21:39Z",
        "nextAttemptAt": None,
    }
    row = table([delivery], DELIVERY_COLUMNS).splitlines()[1].split()
    assert row[:6] == ["d1", "image.pushed", "FAILED", "8", "503", "12"] and row[-1] == "-"


def test_an_update_must_change_something(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    result = CliRunner().invoke(cli, ["webhooks", "update", "b761afdc"])
    assert result.exit_code == 2 and "nothing to change" in result.output

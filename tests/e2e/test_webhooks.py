"""Webhooks against a live Berth (its own server, database and Celery worker): the
`berth webhooks` CLI creates an endpoint, a skopeo push makes Berth POST a signed
image.pushed CloudEvent to a live receiver, which answers 500 twice and is
retried until it takes the event; then the delivery log, a redelivery, a new
secret and the SSRF refusal, all through the CLI."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from apps.webhooks.tests.receiver import Receiver
from tests.cli.test_cli_e2e import Cli
from tests.e2e import images as I
from tests.e2e.conftest import BerthServer, need, run_isolated
from tests.live_database import server_database

pytestmark = [pytest.mark.e2e]

DEADLINE_SECONDS = 60


@pytest.fixture
def server(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with server_database(data_dir) as database_url:
        running = BerthServer(data_dir, database_url)
        running.env["BERTH_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"
        running.env["BERTH_WEBHOOK_RETRY_BASE_SECONDS"] = "0.5"
        try:
            running.start()
            yield running
        finally:
            running.stop()


@pytest.fixture
def receiver():
    running = Receiver()
    running.url = running.start()
    yield running
    running.stop()


def deliveries(cli: Cli, webhook_id: str, wanted) -> list[dict]:
    """The delivery log once ``wanted`` holds of it (the worker records a try after its answer)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        log = cli.json("webhooks", "deliveries", webhook_id)["deliveries"]
        if wanted(log) or time.monotonic() > deadline:
            return log
        time.sleep(0.3)


def test_a_push_reaches_a_receiver_signed_after_two_failures(server: BerthServer, receiver, tmp_path: Path):
    need("skopeo")
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(server, server.create_account("Hooks Co"), home)
    cli.configure()
    account = cli.account

    refused = cli.fails("webhooks", "create", "http://10.0.0.1/hook")
    assert "10.0.0.0/8" in refused and "BERTH_WEBHOOK_ALLOWED_NETWORKS" in refused
    created = cli.json("webhooks", "create", receiver.url, "--event", "image.pushed", "--description", "ci")
    receiver.secret = created["secret"]
    webhook_id = created["webhook"]["webhookId"]
    assert created["webhook"]["events"] == ["image.pushed"]
    assert receiver.secret not in cli.ok("webhooks", "describe", webhook_id)
    assert webhook_id in cli.ok("webhooks", "list")

    receiver.answers = [500, 500]
    image = I.build_oci_image(tmp_path / "image", tag="v1")
    run_isolated(
        ["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", account.creds,
         f"oci:{image.path}:v1", f"docker://{server.host}/{account.account_id}/app:v1"],
        tmp_path / "skopeo",
    )  # fmt: skip
    received = receiver.wait_for(3, timeout=DEADLINE_SECONDS)
    assert len(received) == 3, server.log_tail()
    assert all(one.verified for one in received)
    event = received[0].cloud_event
    assert {one.cloud_event["id"] for one in received} == {event["id"]}
    assert event["type"] == "berth.image.pushed" and event["specversion"] == "1.0"
    assert event["source"] == f"berth/local/{account.account_id}"
    assert event["data"]["digest"] == image.manifest_digest and event["data"]["tag"] == "v1"

    [logged] = deliveries(cli, webhook_id, lambda log: log and log[0]["status"] == "SUCCEEDED")
    assert (logged["status"], logged["attempts"], logged["lastStatusCode"]) == ("SUCCEEDED", 3, 200)
    assert logged["eventId"] == event["id"]

    assert "Queued redelivery" in cli.ok("webhooks", "redeliver", webhook_id, logged["deliveryId"])
    again = receiver.wait_for(4, timeout=DEADLINE_SECONDS)
    assert len(again) == 4 and again[3].verified and again[3].cloud_event["id"] == event["id"]

    rotated = cli.json("webhooks", "rotate-secret", webhook_id)["secret"]
    assert rotated != receiver.secret
    updated = cli.json("webhooks", "update", webhook_id, "--inactive")
    assert updated["active"] is False
    assert cli.ok("webhooks", "delete", webhook_id) == f"Deleted webhook {webhook_id}.\n"
    assert cli.ok("webhooks", "list") == "No webhooks.\n"

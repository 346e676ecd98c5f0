"""`berth audit` against a live server: look-ups with filters and paging, the JSON
Lines output, and the ready-made questions."""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from tests.cli.test_cli_e2e import Cli, _new_user

# The client's side of each command; the server's answers are tested on both databases in apps/.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent(pass_="postgres")]

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


@pytest.fixture
def auditor(berth, tmp_path) -> Cli:
    user = _new_user(berth, tmp_path / "home", "Audit Co")
    user.configure()
    return user


def seed(cli: Cli) -> None:
    """Pulls and pushes as the registry records them, written on the server host."""
    account = cli.account.account_id
    code = textwrap.dedent(f"""
        from datetime import timedelta
        from django.utils import timezone
        from apps.audit import services
        from apps.audit.events import Actor, ActorType, EventDraft

        now = timezone.now()
        ci = Actor(type=ActorType.IAM_USER, arn="arn:berth:iam::{account}:user/ci", account_id="{account}",
                   username="ci", access_key_id="BKIACIEXAMPLE")

        def draft(name, minutes, **fields):
            return EventDraft(event_name=name, event_source="ecr", actor=ci, source_ip=fields.pop("ip", "10.0.0.1"),
                              user_agent="docker/27", request_id="seed", read_only=name != "PutImage",
                              recipient_account_id="{account}", repository="team/app",
                              event_time=now - timedelta(minutes=minutes), **fields)

        services.record_many(
            [draft("BatchGetImage", 60 - n, request_parameters={{"imageTag": "v1"}},
                   response_elements={{"imageDigest": "{DIGEST_A}"}}) for n in range(5)]
            + [draft("BatchGetImage", 1, ip="203.0.113.9", response_elements={{"imageDigest": "{DIGEST_A}"}})]
            + [draft("PutImage", 90, response_elements={{"image": {{"imageId": {{"imageDigest": "{DIGEST_A}", "imageTag": "prod"}}}}}}),
               draft("PutImage", 30, response_elements={{"previousImageDigest": "{DIGEST_A}",
                     "image": {{"imageId": {{"imageDigest": "{DIGEST_B}", "imageTag": "prod"}}}}}})]
        )
    """)
    cli.server.cli("shell", "-c", code)


def test_lookup_filters_pages_and_formats(auditor):
    seed(auditor)

    table = auditor.ok("audit", "lookup", "--repository", "team/app", "--event-name", "BatchGetImage").splitlines()
    assert table[0].split() == ["TIME", "EVENT", "PRINCIPAL", "SOURCE", "IP", "REPOSITORY", "ERROR"]
    assert len(table) == 7
    assert table[1].split()[2:6] == [
        "BatchGetImage",
        f"arn:berth:iam::{auditor.account.account_id}:user/ci",
        "203.0.113.9",
        "team/app",
    ]

    page = auditor.json("audit", "lookup", "--event-name", "BatchGetImage", "--max-results", "4")
    assert len(page["events"]) == 4 and page["next"]

    every = auditor.json("audit", "lookup", "--event-name", "BatchGetImage", "--max-results", "4", "--all")
    assert len(every["events"]) == 6 and every["next"] is None
    assert [e["eventTime"] for e in every["events"]] == sorted((e["eventTime"] for e in every["events"]), reverse=True)

    lines = auditor.ok("audit", "lookup", "--source-ip", "203.0.113.9", "--output", "jsonl").splitlines()
    assert [json.loads(line)["sourceIPAddress"] for line in lines] == ["203.0.113.9"]

    by_key = auditor.json("audit", "lookup", "--principal", "BKIACIEXAMPLE", "--digest", DIGEST_A, "--all")
    assert len(by_key["events"]) == 7  # six pulls and the push that first tagged it

    # looking up is itself recorded
    # The lookups above are reads: the server spools them and its ingester writes them
    # to the trail a moment later (BERTH_AUDIT_SPOOL_WRITE_SECONDS), so look until they land.
    deadline = time.monotonic() + 30
    while not auditor.json("audit", "lookup", "--event-name", "LookupEvents")["events"]:
        assert time.monotonic() < deadline, "the server's own LookupEvents reads never reached the trail"
        time.sleep(0.5)


def test_bad_filters_are_reported_naming_the_field(auditor):
    error = auditor.fails("audit", "lookup", "--start", "last tuesday")
    assert "start_time" in error and "(invalid, HTTP 400)" in error
    assert "digest" in auditor.fails("audit", "image-pulls", "team/app", "not-a-digest")


def test_image_pulls_and_tag_history(auditor):
    seed(auditor)

    pulls = auditor.json("audit", "image-pulls", "team/app", DIGEST_A)["pulls"]
    assert sorted((p["sourceIPAddress"], p["pullCount"]) for p in pulls) == [("10.0.0.1", 5), ("203.0.113.9", 1)]
    table = auditor.ok("audit", "image-pulls", "team/app", DIGEST_A).splitlines()
    assert table[0].split() == ["PRINCIPAL", "SOURCE", "IP", "PULLS", "FIRST", "PULL", "LAST", "PULL"]

    history = auditor.json("audit", "tag-history", "team/app", "prod")["history"]
    assert [(h["imageDigest"], h["previousImageDigest"]) for h in history] == [(DIGEST_B, DIGEST_A), (DIGEST_A, None)]

    mine = auditor.json("audit", "principal-pulls", "ci")["pulls"]
    assert [(p["repositoryName"], p["pullCount"]) for p in mine] == [("team/app", 6)]


def test_another_account_sees_none_of_it(auditor, berth, tmp_path):
    seed(auditor)
    stranger = _new_user(berth, tmp_path / "stranger", "Other Co")
    stranger.configure()

    assert stranger.json("audit", "lookup", "--repository", "team/app", "--all")["events"] == []
    assert stranger.json("audit", "image-pulls", "team/app", DIGEST_A)["pulls"] == []


def test_an_aggregate_of_an_outsiders_failures_shows_its_count(auditor):
    """Failed requests from outside the account beyond the first few of a window are
    counted by the audit writer, and one event of the window says how many."""
    account = auditor.account.account_id
    code = textwrap.dedent(f"""
        from datetime import timedelta
        from django.conf import settings
        from django.utils import timezone
        from apps.audit import recorder
        from apps.audit.events import ANONYMOUS_ACTOR, EventDraft
        from apps.audit.rows import EventRow

        long_ago = timezone.now() - timedelta(seconds=3 * settings.BERTH_AUDIT_FAILURE_WINDOW_SECONDS)
        refused = [EventDraft(event_name="BatchGetImage", event_source="ecr", actor=ANONYMOUS_ACTOR,
                              source_ip="198.51.100.7", user_agent="curl/8", request_id=f"probe{{n}}", read_only=True,
                              recipient_account_id="{account}", repository="team/app", error_code="AccessDenied",
                              event_time=long_ago) for n in range(settings.BERTH_AUDIT_FAILURES_PER_SOURCE + 7)]
        recorder.recorder._write([EventRow.from_draft(draft) for draft in refused])  # as the audit writer does
        recorder.recorder.report_failures()
    """)
    auditor.server.cli("shell", "-c", code)

    table = auditor.ok("audit", "lookup", "--source-ip", "198.51.100.7", "--max-results", "1").splitlines()
    assert table[1].split()[2:5] == ["BatchGetImage", "×7", "Anonymous"]
    [aggregate] = auditor.json("audit", "lookup", "--source-ip", "198.51.100.7", "--max-results", "1")["events"]
    assert aggregate["eventType"] == "BerthAggregate"
    assert aggregate["responseElements"]["berth:aggregate"]["count"] == 7

"""Insights in a real browser: the charts (server-drawn SVG, a title per bar) and
their tables from known counters and trail events put in the live server, the
window chosen with the select (submitted by script), the CSV export, and a
repository's own insights. Screenshots at desktop and phone widths."""

from __future__ import annotations

import csv
import io
import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import DESKTOP, PHONE, shoot

pytestmark = [pytest.mark.e2e, pytest.mark.database_independent]

# SVG elements have no innerText: their titles are read as text content.
TEXTS = "(elements) => elements.map((element) => element.textContent)"


@pytest.fixture
def counted(berth, console_account):
    """Two public repositories with pull counters over the last days, and pull events in the trail."""
    account = console_account.account_id
    for name in ("birds/robin", "birds/wren"):
        berth.create_repository(account, name, public=True)
    code = textwrap.dedent(f"""
        from datetime import UTC, datetime, time, timedelta
        from apps.audit import services
        from apps.audit.events import Actor, ActorType, EventDraft
        from apps.gallery.models import PullCount
        from apps.repositories.models import Repository

        today = datetime.now(UTC).date()
        robin = Repository.objects.get(account_id="{account}", name="birds/robin")
        wren = Repository.objects.get(account_id="{account}", name="birds/wren")
        rows = []
        for ago in range(12):
            rows.append(PullCount(repository=robin, tag="v1", day=today - timedelta(days=ago), count=3 + ago % 4))
            rows.append(PullCount(repository=robin, tag="v2", day=today - timedelta(days=ago), count=ago % 3))
            rows.append(PullCount(repository=wren, tag="latest", day=today - timedelta(days=ago), count=2))
        rows.append(PullCount(repository=robin, tag="old", day=today - timedelta(days=20), count=50))
        PullCount.objects.bulk_create(rows)
        agents = ["docker/27.0", "docker/26.1", "skopeo/1.13", "Helm/3.14.0", "containerd/v1.7", "curl/8"]
        services.record_many([
            EventDraft(event_name="BatchGetImage", event_source="ecr",
                       actor=Actor(type=ActorType.ANONYMOUS, arn="", account_id=""),
                       source_ip=f"192.0.2.{{n % 4}}", user_agent=agents[n % len(agents)], request_id="seed",
                       read_only=True, recipient_account_id="{account}", repository="birds/robin",
                       event_time=datetime.now(UTC) - timedelta(hours=n),
                       request_parameters={{"imageTag": "v1", "httpMethod": "GET"}})
            for n in range(12)
        ])
    """)
    berth.cli("shell", "-c", code)
    return account


def test_account_insights_chart_window_and_csv(console, counted, artifacts):
    page = console(viewport=DESKTOP)
    page.goto("/console/insights")
    assert page.get_by_role("link", name="Insights", exact=True).get_attribute("aria-current") == "page"
    chart = page.locator("svg.chart__svg").first
    chart.wait_for()
    today = datetime.now(UTC).date()
    titles = chart.locator("rect title").evaluate_all(TEXTS)
    assert f"{today:%Y-%m-%d} · birds/robin: 3 pulls" in titles
    assert f"{today:%Y-%m-%d} · birds/wren: 2 pulls" in titles
    assert page.locator(".insights-figures dd.figure").first.inner_text() == str(
        sum(3 + ago % 4 + ago % 3 + 2 for ago in range(12)) + 50
    )
    # Addresses and clients from the trail.
    figures = page.locator(".insights-figures dd.figure").all_inner_texts()
    assert figures[1:] == ["12", "4", "docker"]
    assert "docker: 4 pulls" in page.locator("svg.chart__svg--bars rect title").evaluate_all(TEXTS)
    # The data table says what the chart draws.
    page.get_by_text("Pulls per day as a table").click()
    row = page.locator(".chart__data tbody tr").last
    assert row.locator("th").inner_text() == f"{today:%Y-%m-%d}" and row.locator("td").first.inner_text() == "5"
    shoot(page, artifacts, "console-insights")

    # The window: choosing one shows it at once (script), the Show button is for pages without.
    with page.expect_navigation():
        page.get_by_label("Window").select_option("7")
    assert page.url.endswith("/console/insights?days=7")
    assert len(page.locator("svg.chart__svg").first.locator("g.chart__bar").all()) == 7
    csv_link = page.get_by_role("link", name="Download CSV (date, repository, tag, pulls)")
    answer = page.request.get(csv_link.get_attribute("href"))
    assert answer.ok and answer.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(answer.text())))
    assert {row["repository"] for row in rows} == {"birds/robin", "birds/wren"}
    assert min(row["date"] for row in rows) == (today - timedelta(days=6)).isoformat()
    assert sum(int(row["pulls"]) for row in rows if row["date"] == today.isoformat()) == 5

    phone = console(viewport=PHONE)
    phone.goto("/console/insights?days=30")
    phone.locator("svg.chart__svg").first.wait_for()
    shoot(phone, artifacts, "console-insights")


def test_repository_insights_by_tag(console, counted, artifacts):
    page = console(viewport=DESKTOP)
    page.goto("/console/insights?days=90")
    page.get_by_role("link", name="birds/robin").click()
    page.wait_for_url("**/console/repositories/birds/robin/-/insights?days=90")
    titles = page.locator("svg.chart__svg").first.locator("rect title").evaluate_all(TEXTS)
    today = datetime.now(UTC).date()
    assert f"{today:%Y-%m-%d} · v1: 3 pulls" in titles
    assert f"{today - timedelta(days=20):%Y-%m-%d} · old: 50 pulls" in titles
    ranking = page.locator("#ranking-title + p + .table-scroll tbody tr th").all_inner_texts()
    assert ranking == ["v1", "old", "v2"]  # 54, 50 and 12 pulls
    shoot(page, artifacts, "console-repository-insights")
    phone = console(viewport=PHONE)
    phone.goto("/console/repositories/birds/robin/-/insights")
    phone.locator("svg.chart__svg").first.wait_for()
    shoot(phone, artifacts, "console-repository-insights")

"""Insights (`/console/insights`, `/console/repositories/<name>/-/insights` and their
CSV exports): pulls a day from the gallery's counters, addresses and clients from
the audit trail's pull events, each figure checked against known rows; the window;
the query budget; another account's figures never counted; DescribeImages asked."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, time, timedelta

import pytest

from apps.audit import services as audit_services
from apps.audit.events import Actor, ActorType, EventDraft
from apps.audit.models import Event
from apps.console import insights_charts
from apps.gallery import insights
from apps.gallery.models import PullCount
from apps.iam import services as iam_services
from apps.registry.content.media_types import OCI_INDEX, OCI_MANIFEST
from apps.repositories import services as repository_services
from apps.repositories.models import Visibility

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
TODAY = datetime.now(UTC).date()


def day(ago: int):
    return TODAY - timedelta(days=ago)


def make_repository(tenant, name, *, public=True):
    return repository_services.create_repository(
        account=tenant.account,
        name=name,
        visibility=Visibility.PUBLIC if public else Visibility.PRIVATE,
        actor=SYSTEM,
    )


def pull_event(account_id, repository, *, ago=0, ip="192.0.2.1", agent="docker/27.0 go/go1.22", **fields):
    parameters = fields.pop("request_parameters", {"imageTag": "v1", "httpMethod": "GET"})
    elements = fields.pop(
        "response_elements", {"imageDigest": "sha256:" + "a" * 64, "imageManifestMediaType": OCI_MANIFEST}
    )
    return EventDraft(
        event_name=fields.pop("event_name", "BatchGetImage"),
        event_source="ecr",
        actor=Actor(type=ActorType.ANONYMOUS, arn="", account_id=""),
        source_ip=ip,
        user_agent=agent,
        request_id="r",
        read_only=True,
        recipient_account_id=account_id,
        repository=repository,
        event_time=datetime.combine(day(ago), time(12), tzinfo=UTC),
        request_parameters=parameters,
        response_elements=elements,
        **fields,
    )


@pytest.fixture
def pulls(tenant, other_tenant):
    """Counters and pull events with known sums (see each test)."""
    app = make_repository(tenant, "web/app")
    api = make_repository(tenant, "web/api")
    make_repository(tenant, "vault", public=False)
    other = make_repository(other_tenant, "web/app")
    PullCount.objects.bulk_create(
        [
            PullCount(repository=app, tag="v1", day=day(0), count=5),
            PullCount(repository=app, tag="v2", day=day(0), count=2),
            PullCount(repository=app, tag="", day=day(1), count=1),
            PullCount(repository=app, tag="v1", day=day(3), count=4),
            PullCount(repository=app, tag="v1", day=day(40), count=100),  # in 90 days, not in 30
            PullCount(repository=api, tag="latest", day=day(1), count=7),
            PullCount(repository=other, tag="v1", day=day(0), count=1000),  # another account's
        ]
    )
    account = tenant.id
    audit_services.record_many(
        [
            pull_event(account, "web/app", ip="192.0.2.1", agent="docker/27.0 go/go1.22 os/linux"),
            pull_event(account, "web/app", ip="192.0.2.1", agent="docker/26.1"),
            pull_event(account, "web/app", ip="192.0.2.2", agent="skopeo/1.13.3"),
            pull_event(account, "web/app", ip="192.0.2.3", agent="containers/5.29.2 (github.com/containers/image)"),
            pull_event(account, "web/app", ip="192.0.2.4", agent="containerd/v1.7.13", ago=2),
            pull_event(account, "vault", ip="192.0.2.5", agent="Helm/3.14.0"),
            pull_event(account, "vault", ip="192.0.2.5", agent="curl/8.5"),
            # Not pulls: a HEAD, an index, a refusal, a push, too old, another account's.
            pull_event(account, "web/app", ip="198.51.100.1", request_parameters={"httpMethod": "HEAD"}),
            pull_event(account, "web/app", ip="198.51.100.2", response_elements={"imageManifestMediaType": OCI_INDEX}),
            pull_event(account, "web/app", ip="198.51.100.3", error_code="AccessDenied"),
            pull_event(account, "web/app", ip="198.51.100.4", event_name="PutImage"),
            pull_event(account, "web/app", ip="198.51.100.5", ago=45),
            pull_event(other_tenant.id, "web/app", ip="198.51.100.6"),
            # The API's BatchGetImage records neither a method nor a media type: a pull.
            pull_event(
                account, "web/api", ip="192.0.2.6", agent="berth-cli/1.0", request_parameters={}, response_elements={}
            ),
        ]
    )
    return app


@pytest.fixture
def reads_spooled(settings):
    """Counting a page's own queries: in production its read event goes to the
    per-process audit spool (no query); the tests write every event at once."""
    settings.BERTH_AUDIT_READ_EVENTS = False


def iam_user(tenant, name, *statements):
    user = iam_services.create_user(actor=SYSTEM, account=tenant.account, username=f"{name}-{tenant.id}")
    if statements:
        document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        policy = iam_services.create_policy(actor=SYSTEM, account=tenant.account, name=f"{name}-p", document=document)
        iam_services.attach_policy(actor=SYSTEM, account=tenant.account, managed_policy=policy, user=user)
    return user


# -- the aggregates ---------------------------------------------------------------------


def test_the_account_chart_sums_the_counters_a_day_by_repository(tenant, pulls):
    chart = insights.account_pulls(tenant.id, insights.Window.ending_today(30))
    assert chart.total == 5 + 2 + 1 + 4 + 7
    assert [(series.name, series.total) for series in chart.ranking] == [("web/app", 12), ("web/api", 7)]
    assert chart.totals[-1] == 7 and chart.totals[-2] == 8 and chart.totals[-4] == 4 and len(chart.totals) == 30
    app, api = chart.series
    assert app.days[-1] == 7 and app.days[-2] == 1 and api.days[-2] == 7 and sum(chart.others) == 0
    assert insights.account_pulls(tenant.id, insights.Window.ending_today(90)).total == 119
    assert insights.account_pulls(tenant.id, insights.Window.ending_today(7)).total == 19


def test_the_repository_chart_is_by_tag_and_sums_the_rest_beyond_the_top(tenant, pulls):
    PullCount.objects.bulk_create(
        [PullCount(repository=pulls, tag=f"t{n}", day=day(2), count=1) for n in range(insights.TOP_SERIES + 2)]
    )
    chart = insights.repository_pulls(pulls, insights.Window.ending_today(7))
    assert chart.ranking[0].name == "v1" and chart.ranking[0].total == 9
    assert len(chart.series) == insights.TOP_SERIES
    assert chart.total == 9 + 2 + 1 + 7
    # Every day's series and others add up to its total.
    for _, total, counts, others in chart.rows:
        assert sum(counts) + others == total
    assert chart.others[-3] == 7 - (insights.TOP_SERIES - 3)  # t0.. beyond the top five on day 2


def test_pullers_count_pulls_addresses_and_client_families_from_the_trail(tenant, pulls):
    window = insights.Window.ending_today(30)
    everyone = insights.pullers(tenant.id, window)
    assert (everyone.pulls, everyone.addresses) == (8, 6)
    assert {family.name: (family.pulls, family.addresses) for family in everyone.clients} == {
        "docker": (2, 1),
        "skopeo": (1, 1),
        "podman": (1, 1),
        "containerd": (1, 1),
        "helm": (1, 1),
        "other": (2, 2),
    }
    app = insights.pullers(tenant.id, window, repository="web/app")
    assert (app.pulls, app.addresses) == (5, 4)
    assert insights.pullers(tenant.id, insights.Window.ending_today(90), repository="web/app").pulls == 6
    assert insights.pullers(tenant.id, insights.Window.ending_today(7), repository="nothing").pulls == 0


@pytest.mark.parametrize(
    "agent, family",
    [
        (
            "docker/27.0.3 go/go1.21.12 git-commit/3ab5c7d kernel/6.8 os/linux arch/amd64 UpstreamClient(Docker-Client/27.0.3 \\(linux\\))",
            "docker",
        ),
        ("buildkit/v0.16", "docker"),
        ("skopeo/1.13.3", "skopeo"),
        ("containers/5.29.2 (github.com/containers/image)", "podman"),
        ("libpod/4.9.3", "podman"),
        ("containerd/v1.7.13", "containerd"),
        ("cri-o/1.28.1 go/go1.20 os/linux arch/amd64", "kubelet/cri-o"),
        ("Helm/3.14.0", "helm"),
        ("oras/1.1.0", "oras"),
        ("crane/v0.19.0 go-containerregistry/v0.19.0", "crane"),
        ("go-containerregistry/v0.19.0", "crane"),
        ("curl/8.5", "other"),
        ("", "other"),
    ],
)
def test_client_families_in_sql_and_python_agree(tenant, agent, family):
    assert insights.family_of(agent) == family
    audit_services.record_many([pull_event(tenant.id, "web/app", agent=agent)])
    found = insights.pullers(tenant.id, insights.Window.ending_today(7)).clients
    assert [(client.name, client.pulls) for client in found] == [(family, 1)]


def test_chart_geometry():
    assert [insights_charts.nice_ceiling(n) for n in (0, 1, 3, 7, 11, 240, 2600)] == [1, 1, 5, 10, 20, 250, 5000]
    days = [day(2), day(1), day(0)]
    chart = insights_charts.stacked_by_day("t", days, [("a", [1, 0, 2]), ("b", [1, 0, 0])])
    first = chart.bars[0].segments
    assert [segment.title for segment in first] == [f"{day(2):%Y-%m-%d} · a: 1 pull", f"{day(2):%Y-%m-%d} · b: 1 pull"]
    # Stacked: b sits on a; the tallest bar (2) reaches the top of a 2-pull axis.
    assert first[1].y + first[1].height == pytest.approx(first[0].y)
    assert chart.bars[2].segments[0].y == pytest.approx(insights_charts.TOP)
    assert chart.bars[1].segments == [] and not chart.empty
    assert insights_charts.stacked_by_day("t", days, [("a", [0, 0, 0])]).empty


# -- the pages --------------------------------------------------------------------------


def test_the_account_page_shows_the_figures_charts_and_tables(root_client, tenant, pulls):
    body = root_client.get("/console/insights").content.decode()
    assert "<svg" in body and "style=" not in body
    assert f"{day(1):%Y-%m-%d} · web/api: 7 pulls</title>" in body
    assert f"{day(0):%Y-%m-%d} · web/app: 7 pulls</title>" in body
    assert (
        '<dd class="figure">19</dd>' in body
        and '<dd class="figure">8</dd>' in body
        and '<dd class="figure">6</dd>' in body
    )  # counted, trail, addresses
    assert 'href="/console/repositories/web/app/-/insights?days=30"' in body
    assert "docker: 2 pulls</title>" in body and "helm: 1 pulls</title>" in body
    assert "1000" not in body  # another account's counter
    assert Event.objects.filter(event_name="DescribeImages", event_source="ecr").exists()


def test_the_window_is_chosen_and_a_bad_one_is_a_400(root_client, tenant, pulls):
    assert '<dd class="figure">119</dd>' in root_client.get("/console/insights?days=90").content.decode()
    assert '<dd class="figure">19</dd>' in root_client.get("/console/insights?days=7").content.decode()
    bad = root_client.get("/console/insights?days=12")
    assert bad.status_code == 400 and "Choose a window of 7, 30 or 90 days" in bad.content.decode()
    assert root_client.get("/console/repositories/web/app/-/insights?days=x").status_code == 400
    assert root_client.get("/console/insights.csv?days=365").status_code == 400


def test_the_repository_page_is_by_tag(root_client, tenant, pulls):
    body = root_client.get("/console/repositories/web/app/-/insights").content.decode()
    assert f"{day(0):%Y-%m-%d} · v1: 5 pulls</title>" in body
    assert f"{day(1):%Y-%m-%d} · (by digest): 1 pull</title>" in body
    assert (
        '<dd class="figure">12</dd>' in body
        and '<dd class="figure">5</dd>' in body
        and '<dd class="figure">4</dd>' in body
    )
    assert 'aria-current="page">Insights' in body and "is private" not in body


def test_a_private_repository_shows_its_trail_pulls_and_says_why_none_are_counted(root_client, tenant, pulls):
    body = root_client.get("/console/repositories/vault/-/insights").content.decode()
    assert "is private: its pulls are not counted" in body
    assert '<dd class="figure">0</dd>' in body and '<dd class="figure">2</dd>' in body  # none counted; two in the trail
    assert "helm: 1 pulls</title>" in body


def test_the_csv_exports_the_counters_a_day_a_repository_a_tag(root_client, tenant, pulls):
    response = root_client.get("/console/insights.csv?days=90")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith(f'attachment; filename="pulls-{tenant.id}-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["date", "repository", "tag", "pulls"],
        [day(40).isoformat(), "web/app", "v1", "100"],
        [day(3).isoformat(), "web/app", "v1", "4"],
        [day(1).isoformat(), "web/api", "latest", "7"],
        [day(1).isoformat(), "web/app", "", "1"],
        [day(0).isoformat(), "web/app", "v1", "5"],
        [day(0).isoformat(), "web/app", "v2", "2"],
    ]
    one = root_client.get("/console/repositories/web/app/-/insights.csv?days=7")
    rows = list(csv.reader(io.StringIO(b"".join(one.streaming_content).decode())))
    assert [row[1] for row in rows[1:]] == ["web/app"] * 4 and "web_app" in one["Content-Disposition"]


def test_the_pages_keep_the_query_budget(root_client, tenant, pulls, within_budget, reads_spooled):
    PullCount.objects.bulk_create(
        [PullCount(repository=pulls, tag=f"t{n}", day=day(n % 30), count=n) for n in range(60)]
    )
    within_budget(root_client, "/console/insights?days=90")
    within_budget(root_client, "/console/repositories/web/app/-/insights?days=90")
    for url in ("/console/insights.csv?days=90", "/console/repositories/web/app/-/insights.csv"):
        response = within_budget(root_client, url)
        assert len(b"".join(response.streaming_content).splitlines()) > 10


def test_another_accounts_repository_is_never_found(root_client, other_tenant):
    make_repository(other_tenant, "their/app")
    assert root_client.get("/console/repositories/their/app/-/insights").status_code == 404
    assert root_client.get("/console/repositories/their/app/-/insights.csv").status_code == 404


def test_an_iam_user_without_describe_images_is_refused(client, tenant, pulls):
    client.force_login(iam_user(tenant, "intern"))
    for url in ("/console/insights", "/console/insights.csv", "/console/repositories/vault/-/insights"):
        page = client.get(url)
        assert page.status_code == 403 and "ecr:DescribeImages" in page.content.decode()
    # A public repository's images are everyone's to describe (as on the API): its counts
    # show, but not the trail's addresses and clients.
    body = client.get("/console/repositories/web/app/-/insights").content.decode()
    assert '<dd class="figure">12</dd>' in body
    assert "Distinct addresses" not in body and "cloudtrail:LookupEvents" in body


def test_describe_images_on_one_repository_shows_that_one_but_not_the_account(client, tenant, pulls):
    arn = f"arn:berth:ecr:*:{tenant.id}:repository/vault"
    client.force_login(
        iam_user(
            tenant,
            "auditor",
            {"Effect": "Allow", "Action": "ecr:DescribeImages", "Resource": arn},
            {"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"},
        )
    )
    body = client.get("/console/repositories/vault/-/insights").content.decode()
    assert "Distinct addresses" in body and "helm: 1 pulls</title>" in body
    assert client.get("/console/insights").status_code == 403

"""Insights for publishers: who pulls what, and with what.

`/console/insights` (the account) and `/console/repositories/<name>/-/insights` (one
repository) chart, over the last 7, 30 or 90 days (GET `days`):

- pulls per day, stacked by repository (or by tag), from the gallery's pull
  counters, which count public repositories' pulls (apps.gallery.pulls);
- the addresses pulls came from and the client families that made them (docker,
  podman, skopeo, ...), from the audit trail's pull events, private repositories'
  included (apps.gallery.insights.pullers).

Both read what Berth already keeps, aggregated in the database (apps.gallery.insights:
two queries for the pulls, two for the trail). `insights.csv` exports the counters a
day, a repository and a tag (columns date, repository, tag, pulls).

Authorization is the API's for pull counts (apps.api.gallery.views.RepositoryPullCounts):
ecr:DescribeImages on the repository (which a public repository gives everyone,
as the API does); account-wide, on every repository (`repository/*`), as the usage
API asks ecr:DescribeRepositories of all of them. The addresses and clients come
from the audit trail and are shown only to who may read it (cloudtrail:LookupEvents,
as the API's audit reads ask)."""

from __future__ import annotations

import csv

from django.http import StreamingHttpResponse
from django.urls import path

from apps.gallery import insights as data

from . import converters  # noqa: F401  (registers `repo` before the routes below use it)
from . import insights_charts as charts
from .base import ConsoleView
from .insights_forms import WindowForm

READ = "ecr:DescribeImages"
# Addresses and clients are read from the audit trail: shown to who may read the trail.
TRAIL = "cloudtrail:LookupEvents"
OTHERS = "all others"


class _InsightsView(ConsoleView):
    section = "insights"

    def window(self) -> tuple[WindowForm, data.Window | None]:
        form = WindowForm({"days": self.request.GET.get("days", WindowForm.DEFAULT_DAYS)})
        if not form.is_valid():
            return form, None
        return form, data.Window.ending_today(form.cleaned_data["days"])

    def pullers(self, window: data.Window, *, repository: str | None = None) -> data.Pullers | None:
        if not self.allowed(TRAIL):
            return None
        return data.pullers(self.account.pk, window, repository=repository)

    def charts_of(self, chart: data.PullChart, pullers: data.Pullers | None, *, by: str) -> dict:
        layers = [(series.name or "(by digest)", series.days) for series in chart.series]
        if any(chart.others):
            layers.append((OTHERS, chart.others))
        days = chart.window.each_day()
        return {
            "pulls_chart": charts.stacked_by_day(f"Pulls per day by {by}", days, layers),
            "clients_chart": charts.horizontal(
                "Pulls by client", [(family.name, family.pulls) for family in pullers.clients]
            )
            if pullers is not None
            else None,
            "trail_action": TRAIL,
        }

    def refuse_window(self, form, context):
        return self.render({**context, "window_form": form}, status=400)


class AccountInsights(_InsightsView):
    template_name = "console/insights/account.html"

    def get(self, request):
        self.authorize(READ, resource_arn=self.repository_arn("*"))
        form, window = self.window()
        if window is None:
            return self.refuse_window(form, {})
        chart = data.account_pulls(self.account.pk, window)
        pullers = self.pullers(window)
        return self.render(
            {
                "window_form": form,
                "window": window,
                "chart": chart,
                "pullers": pullers,
                "series_label": "Repository",
                "csv_path": f"/console/insights.csv?days={window.days}",
                **self.charts_of(chart, pullers, by="repository"),
            }
        )


class RepositoryInsights(_InsightsView):
    section = "repositories"
    template_name = "console/insights/repository.html"

    def get(self, request, name: str):
        repository = self.repository_named(name, action=READ)
        self.authorize(READ, repository=repository)
        form, window = self.window()
        context = {"repository": repository, "tab": "insights"}
        if window is None:
            return self.refuse_window(form, context)
        chart = data.repository_pulls(repository, window)
        pullers = self.pullers(window, repository=repository.name)
        return self.render(
            {
                **context,
                "window_form": form,
                "window": window,
                "chart": chart,
                "pullers": pullers,
                "series_label": "Tag",
                "csv_path": f"/console/repositories/{repository.name}/-/insights.csv?days={window.days}",
                **self.charts_of(chart, pullers, by="tag"),
            }
        )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_response(rows, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(["date", "repository", "tag", "pulls"])
        for day, repository, tag, pulls in rows:
            yield writer.writerow([day.isoformat(), repository, tag, pulls])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


class AccountInsightsCsv(_InsightsView):
    template_name = "console/insights/account.html"  # a bad window is shown there

    def get(self, request):
        self.authorize(READ, resource_arn=self.repository_arn("*"))
        form, window = self.window()
        if window is None:
            return self.refuse_window(form, {})
        rows = data.pull_rows(window, account_id=self.account.pk)
        return _csv_response(rows, f"pulls-{self.account.pk}-{window.first}-{window.last}.csv")


class RepositoryInsightsCsv(_InsightsView):
    template_name = "console/insights/repository.html"

    def get(self, request, name: str):
        repository = self.repository_named(name, action=READ)
        self.authorize(READ, repository=repository)
        form, window = self.window()
        if window is None:
            return self.refuse_window(form, {"repository": repository, "tab": "insights"})
        rows = data.pull_rows(window, account_id=self.account.pk, repository=repository)
        slug = repository.name.replace("/", "_")
        return _csv_response(rows, f"pulls-{self.account.pk}-{slug}-{window.first}-{window.last}.csv")


urlpatterns = [
    path("/insights", AccountInsights.as_view(), name="insights"),
    path("/insights.csv", AccountInsightsCsv.as_view(), name="insights-csv"),
    path("/repositories/<repo:name>/-/insights", RepositoryInsights.as_view(), name="repository-insights"),
    path("/repositories/<repo:name>/-/insights.csv", RepositoryInsightsCsv.as_view(), name="repository-insights-csv"),
]

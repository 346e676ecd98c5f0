"""Routes of the console under /console/ (the site's paths have no trailing slash).

Each area of the console keeps its routes beside its views (``urlpatterns`` in
its module); a repository's pages hang under `/console/repositories/<name>/-/...`,
where the `repo` converter (converters.py) matches only a repository name, so no
route can swallow another's."""

from . import (  # noqa: F401  (converters: registers `repo`)
    audit_pages,
    catalog,
    converters,
    iam_pages,
    images,
    insights,
    overview,
    policies,
    repositories,
    webhook_pages,
)

app_name = "console"

urlpatterns = [
    *overview.urlpatterns,
    *repositories.urlpatterns,
    *images.urlpatterns,
    *policies.urlpatterns,
    *catalog.urlpatterns,
    *insights.urlpatterns,
    *iam_pages.urlpatterns,
    *audit_pages.urlpatterns,
    *webhook_pages.urlpatterns,
]

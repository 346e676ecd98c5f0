from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.api.views import UnknownEndpoint
from apps.aws import views as aws
from apps.gallery import views as gallery
from apps.registry.v2 import token


def root(request):
    """`/`: the AWS endpoint for a signed `POST` (what `aws --endpoint-url` and
    boto3's `endpoint_url` name), the gallery's home page for everything else."""
    if aws.is_aws_request(request):
        return aws.endpoint(request)
    return gallery.home(request)


root.csrf_exempt = True  # the AWS endpoint's requests are signed; the home page takes no POST

urlpatterns = [
    path("", root, name="root"),
    path("", include("apps.registry.v2.urls")),
    path("token", token.token, name="token"),
    path("api/v1/", include("apps.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file of its own, not inline
    # (the Content-Security-Policy forbids inline script); the page's template has no inline style.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
        name="api-docs",
    ),
    re_path(r"^api/", UnknownEndpoint.as_view()),
    path("admin/", admin.site.urls),
    path("accounts/", include("apps.console.urls")),
    path("console", include("apps.console.console_urls")),
    # Last: the gallery's /<alias> and /<alias>/<name> catch what nothing above claims.
    path("", include("apps.gallery.urls")),
]

handler400 = "registry_project.errors.bad_request"

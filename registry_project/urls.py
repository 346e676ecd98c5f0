from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.api.views import UnknownEndpoint
from apps.registry.v2 import token

urlpatterns = [
    path("", include("apps.registry.v2.urls")),
    path("token", token.token, name="token"),
    path("api/v1/", include("apps.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/", UnknownEndpoint.as_view()),
    path("admin/", admin.site.urls),
    path("accounts/", include("apps.accounts.urls")),
    # Last: the gallery's /<alias> and /<alias>/<name> catch what nothing above claims.
    path("", include("apps.gallery.urls")),
]

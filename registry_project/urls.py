from django.contrib import admin
from django.urls import include, path

from apps.registry.v2 import token

urlpatterns = [
    path("", include("apps.registry.v2.urls")),
    path("token", token.token, name="token"),
    path("admin/", admin.site.urls),
]

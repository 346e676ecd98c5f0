"""The gallery's routes. Included last by the root URLconf: `/<alias>` and
`/<alias>/<name>` would otherwise catch /v2/, /api/, /admin/, /accounts/ and the rest.
A name never has a path component starting with `-`, so `/-/logo` cannot be a name."""

from django.urls import path, re_path

from apps.accounts.models import ALIAS_PATTERN
from apps.repositories.models import REPOSITORY_NAME_PATTERN

from . import views

app_name = "gallery"
ALIAS = rf"(?P<alias>{ALIAS_PATTERN.strip('^$')})"
NAME = rf"(?P<name>{REPOSITORY_NAME_PATTERN.strip('^$')})"

urlpatterns = [
    path("", views.home, name="home"),
    path("search", views.search, name="search"),
    re_path(rf"^{ALIAS}/{NAME}/-/logo$", views.repository_logo, name="logo"),
    re_path(rf"^{ALIAS}/-/logo$", views.publisher_logo, name="publisher_logo"),
    re_path(rf"^{ALIAS}/{NAME}$", views.repository, name="repository"),
    re_path(rf"^{ALIAS}/{NAME}/$", views.repository_with_slash),
    re_path(rf"^{ALIAS}/?$", views.publisher, name="publisher"),
]

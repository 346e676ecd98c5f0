"""Routes of the management API, under /api/v1/. Repository names contain '/',
so a repository's sub-resources follow a `/-/` that no name can hold."""
from django.urls import path

from apps.accounts import api as accounts_api
from apps.repositories import api as repositories_api

urlpatterns = [
    path("auth/access-keys", accounts_api.BootstrapAccessKey.as_view(), name="api-bootstrap-access-key"),
    path("access-keys", accounts_api.AccessKeyList.as_view(), name="api-access-keys"),
    path("access-keys/<str:access_key_id>", accounts_api.AccessKeyDetail.as_view(), name="api-access-key"),
    path("repositories", repositories_api.RepositoryList.as_view(), name="api-repositories"),
    path(
        "repositories/<path:name>/-/image-tag-mutability",
        repositories_api.RepositoryImageTagMutability.as_view(),
        name="api-repository-image-tag-mutability",
    ),
    path("repositories/<path:name>", repositories_api.RepositoryDetail.as_view(), name="api-repository"),
]

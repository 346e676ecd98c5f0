"""Routes of the management API, under /api/v1/. Repository names contain '/',
so a repository's sub-resources follow a `/-/` that no name can hold."""
from django.urls import path

from apps.accounts import api as accounts_api
from apps.accounts import registries_api
from apps.registry import api as images_api
from apps.repositories import api as repositories_api

urlpatterns = [
    path("auth/access-keys", accounts_api.BootstrapAccessKey.as_view(), name="api-bootstrap-access-key"),
    path("access-keys", accounts_api.AccessKeyList.as_view(), name="api-access-keys"),
    path("access-keys/<str:access_key_id>", accounts_api.AccessKeyDetail.as_view(), name="api-access-key"),
    path("authorization-token", accounts_api.AuthorizationToken.as_view(), name="api-authorization-token"),
    path("repositories", repositories_api.RepositoryList.as_view(), name="api-repositories"),
    path(
        "repositories/<path:name>/-/image-tag-mutability",
        repositories_api.RepositoryImageTagMutability.as_view(),
        name="api-repository-image-tag-mutability",
    ),
    path(
        "repositories/<path:name>/-/catalog-data/logo",
        repositories_api.RepositoryCatalogDataLogo.as_view(),
        name="api-repository-catalog-data-logo",
    ),
    path(
        "repositories/<path:name>/-/catalog-data",
        repositories_api.RepositoryCatalogDataDetail.as_view(),
        name="api-repository-catalog-data",
    ),
    path("repositories/<path:name>/-/images", images_api.ImageList.as_view(), name="api-repository-images"),
    path(
        "repositories/<path:name>/-/images/describe",
        images_api.ImageDescriptions.as_view(),
        name="api-repository-images-describe",
    ),
    path(
        "repositories/<path:name>/-/images/batch-get",
        images_api.ImageBatchGet.as_view(),
        name="api-repository-images-batch-get",
    ),
    path(
        "repositories/<path:name>/-/images/batch-delete",
        images_api.ImageBatchDelete.as_view(),
        name="api-repository-images-batch-delete",
    ),
    path("repositories/<path:name>", repositories_api.RepositoryDetail.as_view(), name="api-repository"),
    path("registries", registries_api.RegistryList.as_view(), name="api-registries"),
    path("registry/catalog-data", registries_api.RegistryCatalogData.as_view(), name="api-registry-catalog-data"),
]

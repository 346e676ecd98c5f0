"""Repositories in the management API: Amazon ECR's repository operations over
the signed-in user's account. Another account's repository is never found."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseNotModified
from django.urls import reverse
from django.utils.http import parse_etags, quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from apps.api.exceptions import BadRequest, Conflict
from apps.api.serializers import error_responses
from apps.api.views import AccountScopedView
from apps.registry import selectors as registry_selectors
from apps.registry import services as registry_services
from apps.repositories import catalog, selectors, services
from apps.repositories.models import LogoContentType, Repository, Visibility
from apps.repositories.mutability import TagMutabilityInvalid

from .serializers import (
    CreateRepositorySerializer,
    DeleteRepositoryQuerySerializer,
    ImageTagMutabilitySerializer,
    PutRepositoryCatalogDataSerializer,
    RepositoryCatalogDataSerializer,
    RepositoryListQuerySerializer,
    RepositoryPageSerializer,
    RepositorySerializer,
    UpdateRepositorySerializer,
)

REPOSITORIES_TAG = "repositories"
CATALOG_TAG = "catalog data"
NAME = OpenApiParameter(
    "name", str, OpenApiParameter.PATH, description="the repository name, `/` included (`team/app`)"
)


def _invalid(field: str, exc: ValueError) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [ErrorDetail(str(exc), code=getattr(exc, "code", "invalid"))]})


def _resource_tags(tags: list[dict] | None) -> dict[str, str] | None:
    return None if tags is None else {tag["key"]: tag["value"] for tag in tags}


def _create_actions(data: dict) -> list[str]:
    """What CreateRepository needs besides itself: ecr:TagResource for resource tags
    (as in Amazon ECR), ecr:SetRepositoryPolicy for a public repository (see below)."""
    actions = ["ecr:TagResource"] if data["tags"] else []
    if data["visibility"] == Visibility.PUBLIC:
        actions.append("ecr:SetRepositoryPolicy")
    return actions


def _update_actions(data: dict) -> list[str]:
    """The ECR operations a repository update performs. Making a repository public
    lets everyone pull it, as a repository policy granting `*` would: it takes
    ecr:SetRepositoryPolicy. An update that changes nothing only describes."""
    actions = []
    if "imageTagMutability" in data or "imageTagMutabilityExclusionFilters" in data:
        actions.append("ecr:PutImageTagMutability")
    if "scanOnPush" in data:
        actions.append("ecr:PutImageScanningConfiguration")
    if "tags" in data:
        actions.append("ecr:TagResource")
    if "visibility" in data:
        actions.append("ecr:SetRepositoryPolicy")
    return actions or ["ecr:DescribeRepositories"]


class _RepositoryView(AccountScopedView):
    def _represent(self, repository: Repository, *, status_code: int = status.HTTP_200_OK) -> Response:
        described = registry_selectors.describe_repository(self.account, repository.name)
        context = self._context([described] if described is not None else [])
        return Response(RepositorySerializer(described, context=context).data, status=status_code)

    def _context(self, repositories: list[Repository]) -> dict:
        return {
            "host": selectors.registry_host(self.request),
            "primary_alias": self.account.primary_alias,
            "stored": registry_selectors.stored_bytes(repository.pk for repository in repositories),
        }


class RepositoryList(_RepositoryView):
    @extend_schema(
        operation_id="describeRepositories",
        summary="List repositories",
        description="Amazon ECR's DescribeRepositories: the account's repositories by name, a page at a time. "
        "Pass a page's `next` token to get the following one.",
        parameters=[RepositoryListQuerySerializer],
        responses={200: RepositoryPageSerializer, **error_responses(400, 401, 403)},
        tags=[REPOSITORIES_TAG],
    )
    def get(self, request):
        query = RepositoryListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            page, next_token = registry_selectors.describe_repositories(
                self.account,
                name_prefix=query.validated_data.get("name_prefix", ""),
                limit=query.validated_data["max_results"],
                next_token=query.validated_data.get("next"),
            )
        except registry_selectors.PageTokenInvalid as exc:
            raise _invalid("next", exc) from None
        page = self.authorize_each("ecr:DescribeRepositories", page)
        body = {"repositories": page, "next": next_token}
        return Response(RepositoryPageSerializer(body, context=self._context(page)).data)

    @extend_schema(
        operation_id="createRepository",
        summary="Create a repository",
        description="Amazon ECR's CreateRepository, with its image tag mutability (and exclusion filters), "
        "scan-on-push setting and resource tags. Scan on push is stored only for now: images are scanned once "
        "Berth's scanner arrives.",
        request=CreateRepositorySerializer,
        responses={201: RepositorySerializer, **error_responses(400, 401, 403, 409)},
        tags=[REPOSITORIES_TAG],
    )
    def post(self, request):
        given = CreateRepositorySerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        self.authorize(
            "ecr:CreateRepository",
            resource_arn=self.repository_arn(data["name"]),
            also=_create_actions(data),
            repositoryName=data["name"],
        )
        try:
            repository = services.create_repository(
                account=self.account,
                name=data["name"],
                visibility=data["visibility"],
                image_tag_mutability=data["imageTagMutability"],
                image_tag_mutability_exclusion_filters=data["imageTagMutabilityExclusionFilters"],
                scan_on_push=data["scanOnPush"],
                resource_tags=_resource_tags(data["tags"]),
                **_encryption(data),
                actor=self.actor,
                context=self.context,
            )
        except services.EncryptionConfigurationInvalid as exc:
            raise _invalid("encryptionConfiguration", exc) from None
        except services.RepositoryExists as exc:
            raise Conflict(str(exc), code="repository_already_exists") from None
        except TagMutabilityInvalid as exc:
            raise _invalid("imageTagMutabilityExclusionFilters", exc) from None
        except services.ResourceTagsInvalid as exc:
            raise _invalid("tags", exc) from None
        return self._represent(repository, status_code=status.HTTP_201_CREATED)


def _encryption(data) -> dict:
    """create_repository's encryption arguments from the request's encryptionConfiguration."""
    if "encryptionConfiguration" not in data:
        return {"encryption_type": None}
    given = data["encryptionConfiguration"]
    if given is None:
        return {"encryption_type": ""}
    return {"encryption_type": given["encryptionType"], "kms_key": given.get("kmsKey", "")}


class RepositoryDetail(_RepositoryView):
    @extend_schema(
        operation_id="describeRepository",
        summary="Describe a repository",
        description="Amazon ECR's DescribeRepositories for one repository name.",
        parameters=[NAME],
        responses={200: RepositorySerializer, **error_responses(401, 403, 404)},
        tags=[REPOSITORIES_TAG],
    )
    def get(self, request, name: str):
        repository = self.repository_named(name, action="ecr:DescribeRepositories")
        self.authorize("ecr:DescribeRepositories", repository=repository)
        return self._represent(repository)

    @extend_schema(
        operation_id="updateRepository",
        summary="Change a repository's settings",
        description="Amazon ECR's PutImageTagMutability, PutImageScanningConfiguration and TagResource in one "
        "call, plus the visibility. Settings left out stay as they are; `tags` replaces all resource tags. "
        "Scan on push is stored only for now: images are scanned once Berth's scanner arrives.",
        parameters=[NAME],
        request=UpdateRepositorySerializer,
        responses={200: RepositorySerializer, **error_responses(400, 401, 403, 404)},
        tags=[REPOSITORIES_TAG],
    )
    def patch(self, request, name: str):
        given = UpdateRepositorySerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        first, *others = _update_actions(data)
        repository = self.repository_named(name, action=first)
        self.authorize(first, repository=repository, also=others)
        try:
            services.update_repository(
                repository=repository,
                visibility=data.get("visibility"),
                image_tag_mutability=data.get("imageTagMutability"),
                image_tag_mutability_exclusion_filters=data.get("imageTagMutabilityExclusionFilters"),
                scan_on_push=data.get("scanOnPush"),
                resource_tags=_resource_tags(data.get("tags")),
                actor=self.actor,
                context=self.context,
            )
        except TagMutabilityInvalid as exc:
            raise _invalid("imageTagMutabilityExclusionFilters", exc) from None
        except services.ResourceTagsInvalid as exc:
            raise _invalid("tags", exc) from None
        return self._represent(repository)

    @extend_schema(
        operation_id="deleteRepository",
        summary="Delete a repository",
        description="Amazon ECR's DeleteRepository: refused with 409 `repository_not_empty` while the "
        "repository holds images, unless `force=true`, which deletes them with it.",
        parameters=[NAME, DeleteRepositoryQuerySerializer],
        responses={204: None, **error_responses(400, 401, 403, 404, 409)},
        tags=[REPOSITORIES_TAG],
    )
    def delete(self, request, name: str):
        repository = self.repository_named(name, action="ecr:DeleteRepository")
        query = DeleteRepositoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.authorize("ecr:DeleteRepository", repository=repository, force=query.validated_data["force"])
        try:
            registry_services.delete_repository(
                repository=repository, force=query.validated_data["force"], actor=self.actor, context=self.context
            )
        except services.RepositoryNotEmpty as exc:
            raise Conflict(str(exc), code="repository_not_empty") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class RepositoryImageTagMutability(_RepositoryView):
    @extend_schema(
        operation_id="putImageTagMutability",
        summary="Set a repository's image tag mutability",
        description="Amazon ECR's PutImageTagMutability. An immutable tag cannot be pushed again with other "
        "content (the registry answers TAG_INVALID); the same content again is fine. With IMMUTABLE_WITH_EXCLUSION "
        "or MUTABLE_WITH_EXCLUSION, tags matching an exclusion filter take the opposite rule.",
        parameters=[NAME],
        request=ImageTagMutabilitySerializer,
        responses={200: ImageTagMutabilitySerializer, **error_responses(400, 401, 403, 404)},
        tags=[REPOSITORIES_TAG],
    )
    def put(self, request, name: str):
        repository = self.repository_named(name, action="ecr:PutImageTagMutability")
        given = ImageTagMutabilitySerializer(data=request.data)
        given.is_valid(raise_exception=True)
        self.authorize(
            "ecr:PutImageTagMutability",
            repository=repository,
            imageTagMutability=given.validated_data["imageTagMutability"],
        )
        try:
            services.put_image_tag_mutability(
                repository=repository,
                image_tag_mutability=given.validated_data["imageTagMutability"],
                image_tag_mutability_exclusion_filters=given.validated_data["imageTagMutabilityExclusionFilters"],
                actor=self.actor,
                context=self.context,
            )
        except TagMutabilityInvalid as exc:
            raise _invalid("imageTagMutabilityExclusionFilters", exc) from None
        return Response(
            ImageTagMutabilitySerializer(
                {
                    "imageTagMutability": repository.image_tag_mutability,
                    "imageTagMutabilityExclusionFilters": repository.image_tag_mutability_exclusion_filters,
                }
            ).data
        )


# -- catalog data (Amazon ECR Public) ---------------------------------------------------

# Where the service's names for catalog data fields appear in the API.
_CATALOG_FIELDS = {
    "description": "description",
    "about_markdown": "aboutText",
    "usage_markdown": "usageText",
    "architectures": "architectures",
    "operating_systems": "operatingSystems",
    "logo": "logoImageBlob",
}


class RepositoryCatalogDataDetail(_RepositoryView):
    def _represent_catalog(self, catalog_data) -> Response:
        logo_url = self.request.build_absolute_uri(
            reverse("api-repository-catalog-data-logo", kwargs={"name": catalog_data.repository.name})
        )
        return Response(RepositoryCatalogDataSerializer(catalog_data, context={"logo_url": logo_url}).data)

    @extend_schema(
        operation_id="getRepositoryCatalogData",
        summary="Get a repository's catalog data",
        description="Amazon ECR Public's GetRepositoryCatalogData: what the gallery shows about a public "
        "repository, with the about and usage texts both as put (Markdown) and rendered (sanitized HTML). "
        "Fields are empty until catalog data is first put. A repository made private keeps its catalog data, "
        "shown here and in the gallery again once it is public.",
        parameters=[NAME],
        responses={200: RepositoryCatalogDataSerializer, **error_responses(401, 403, 404)},
        tags=[CATALOG_TAG],
    )
    def get(self, request, name: str):
        repository = self.repository_named(name, action="ecr-public:GetRepositoryCatalogData")
        self.authorize("ecr-public:GetRepositoryCatalogData", repository=repository)
        return self._represent_catalog(catalog.catalog_data_of(repository))

    @extend_schema(
        operation_id="putRepositoryCatalogData",
        summary="Put a repository's catalog data",
        description="Amazon ECR Public's PutRepositoryCatalogData, with its limits: a description of at most "
        "1,024 characters; about and usage texts in Markdown of at most 25,600 characters each; up to 50 "
        "architectures and 50 operating systems; a PNG or JPEG logo of at most 512,000 bytes and 60 to 2,048 "
        "pixels a side, base64 in `logoImageBlob`. Fields left out stay as they are; an empty text or list "
        "clears one, a null logo removes it. Public repositories only (ECR Public has no private ones): a "
        "private repository is refused with 400 `repository_not_public`.",
        parameters=[NAME],
        request=PutRepositoryCatalogDataSerializer,
        responses={200: RepositoryCatalogDataSerializer, **error_responses(400, 401, 403, 404)},
        tags=[CATALOG_TAG],
    )
    def put(self, request, name: str):
        repository = self.repository_named(name, action="ecr-public:PutRepositoryCatalogData")
        given = PutRepositoryCatalogDataSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        self.authorize("ecr-public:PutRepositoryCatalogData", repository=repository)
        data = given.validated_data
        logo = data.get("logoImageBlob")
        try:
            updated = catalog.put_repository_catalog_data(
                repository=repository,
                description=data.get("description"),
                about_markdown=data.get("aboutText"),
                usage_markdown=data.get("usageText"),
                architectures=data.get("architectures"),
                operating_systems=data.get("operatingSystems"),
                logo=logo or None,
                remove_logo="logoImageBlob" in data and not logo,
                actor=self.actor,
                context=self.context,
            )
        except catalog.RepositoryNotPublic as exc:
            raise BadRequest(str(exc), code="repository_not_public") from None
        except Repository.DoesNotExist:  # deleted meanwhile
            raise exceptions.NotFound(f"repository {name[:300]} does not exist in account {self.account.pk}") from None
        except catalog.CatalogDataInvalid as exc:
            raise _invalid(_CATALOG_FIELDS[exc.field], exc) from None
        return self._represent_catalog(updated)


class _IgnoreAccept(BaseContentNegotiation):
    """The logo's bytes go out as what they are whatever the client accepts; errors as JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _etag_matches(etag: str, if_none_match: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2)."""
    if if_none_match.strip() == "*":
        return True
    return etag in {tag.removeprefix("W/") for tag in parse_etags(if_none_match)}


class RepositoryCatalogDataLogo(_RepositoryView):
    content_negotiation_class = _IgnoreAccept

    @extend_schema(
        operation_id="getRepositoryCatalogDataLogo",
        summary="Get a repository's logo",
        description="The image of the logo put with Amazon ECR Public's PutRepositoryCatalogData (whose "
        "GetRepositoryCatalogData answers with its `logoUrl`), as it was put, with its content type. The ETag "
        "is the image's digest: with If-None-Match the answer is 304 while the logo is the same.",
        parameters=[NAME],
        responses={
            (200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description="the logo's image, as put")
            for content_type in LogoContentType.values
        }
        | {
            304: OpenApiResponse(description="the logo is the one the If-None-Match ETag names"),
            **error_responses(401, 403, 404),
        },
        tags=[CATALOG_TAG],
    )
    def get(self, request, name: str):
        repository = self.repository_named(name, action="ecr-public:GetRepositoryCatalogData")
        self.authorize("ecr-public:GetRepositoryCatalogData", repository=repository)
        found = catalog.logo_of(repository)
        if found is None:
            raise exceptions.NotFound(f"repository {repository.name} has no logo")
        etag = quote_etag(found.logo_digest)
        if _etag_matches(etag, request.headers.get("If-None-Match", "")):
            response = HttpResponseNotModified()
        else:
            response = HttpResponse(bytes(found.logo), content_type=found.logo_content_type)
        response["ETag"] = etag
        # Signed-in callers only, and the logo may change at any time: caches ask again each time.
        response["Cache-Control"] = "private, no-cache"
        response["X-Content-Type-Options"] = "nosniff"
        return response

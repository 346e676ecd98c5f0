"""Repositories in the management API: Amazon ECR's repository operations over
the signed-in user's account. Another account's repository is never found."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response

from apps.api.exceptions import Conflict
from apps.api.serializers import error_responses
from apps.api.views import AccountScopedView

from . import selectors, services
from .models import Repository
from .mutability import TagMutabilityInvalid
from .serializers import (
    CreateRepositorySerializer,
    DeleteRepositoryQuerySerializer,
    ImageTagMutabilitySerializer,
    RepositoryListQuerySerializer,
    RepositoryPageSerializer,
    RepositorySerializer,
    UpdateRepositorySerializer,
)

REPOSITORIES_TAG = "repositories"
NAME = OpenApiParameter(
    "name", str, OpenApiParameter.PATH, description="the repository name, `/` included (`team/app`)"
)


def _invalid(field: str, exc: ValueError) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [ErrorDetail(str(exc), code=getattr(exc, "code", "invalid"))]})


def _resource_tags(tags: list[dict] | None) -> dict[str, str] | None:
    return None if tags is None else {tag["key"]: tag["value"] for tag in tags}


class _RepositoryView(AccountScopedView):
    def _repository(self, name: str) -> Repository:
        repository = selectors.describe_repository(self.account, name)
        if repository is None:
            raise exceptions.NotFound(f"repository {name[:300]} does not exist in account {self.account.pk}")
        return repository

    def _represent(self, repository: Repository, *, status_code: int = status.HTTP_200_OK) -> Response:
        described = selectors.describe_repository(self.account, repository.name)
        return Response(RepositorySerializer(described, context=self._context()).data, status=status_code)

    def _context(self) -> dict:
        return {"host": selectors.registry_host(self.request), "default_alias": self.account.default_alias}


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
            page, next_token = selectors.describe_repositories(
                self.account,
                name_prefix=query.validated_data.get("name_prefix", ""),
                limit=query.validated_data["max_results"],
                next_token=query.validated_data.get("next"),
            )
        except selectors.PageTokenInvalid as exc:
            raise _invalid("next", exc) from None
        body = {"repositories": page, "next": next_token}
        return Response(RepositoryPageSerializer(body, context=self._context()).data)

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
        try:
            repository = services.create_repository(
                account=self.account,
                name=data["name"],
                visibility=data["visibility"],
                image_tag_mutability=data["imageTagMutability"],
                image_tag_mutability_exclusion_filters=data["imageTagMutabilityExclusionFilters"],
                scan_on_push=data["scanOnPush"],
                resource_tags=_resource_tags(data["tags"]),
            )
        except services.RepositoryExists as exc:
            raise Conflict(str(exc), code="repository_already_exists") from None
        except TagMutabilityInvalid as exc:
            raise _invalid("imageTagMutabilityExclusionFilters", exc) from None
        except services.ResourceTagsInvalid as exc:
            raise _invalid("tags", exc) from None
        return self._represent(repository, status_code=status.HTTP_201_CREATED)


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
        return Response(RepositorySerializer(self._repository(name), context=self._context()).data)

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
        repository = self._repository(name)
        given = UpdateRepositorySerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            services.update_repository(
                repository=repository,
                visibility=data.get("visibility"),
                image_tag_mutability=data.get("imageTagMutability"),
                image_tag_mutability_exclusion_filters=data.get("imageTagMutabilityExclusionFilters"),
                scan_on_push=data.get("scanOnPush"),
                resource_tags=_resource_tags(data.get("tags")),
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
        repository = self._repository(name)
        query = DeleteRepositoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            services.delete_repository(repository=repository, force=query.validated_data["force"])
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
        repository = self._repository(name)
        given = ImageTagMutabilitySerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            services.put_image_tag_mutability(
                repository=repository,
                image_tag_mutability=given.validated_data["imageTagMutability"],
                image_tag_mutability_exclusion_filters=given.validated_data["imageTagMutabilityExclusionFilters"],
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

"""Images in the management API: Amazon ECR's image operations over a repository
of the signed-in user's account. Another account's repository is never found.

An image is a manifest of the repository, named by an image id: its digest, a
tag, or both (then the tag must point at that digest). An index and each manifest
it lists are images of their own, as in Amazon ECR."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db.models import prefetch_related_objects
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response

from apps.api.exceptions import Conflict
from apps.api.serializers import ErrorSerializer, error_responses
from apps.api.views import AccountScopedView
from apps.kernel.digests import DigestInvalid
from apps.kernel.errors import DomainError
from apps.registry import negotiation, selectors, services
from apps.registry.exceptions import TagInvalid
from apps.registry.selectors import FailureCode, ImageFailure, TagStatus
from apps.repositories.models import Repository

from .serializers import (
    MAX_IMAGE_IDS,
    BatchDeleteImageRequestSerializer,
    BatchDeleteImageResponseSerializer,
    BatchGetImageRequestSerializer,
    BatchGetImageResponseSerializer,
    DescribeImagesRequestSerializer,
    ImageDetailPageSerializer,
    ImageIdPageSerializer,
    ImageSerializer,
    ImagesQuerySerializer,
    PutImageSerializer,
    image_id,
    image_id_pairs,
)

IMAGES_TAG = "images"
NAME = OpenApiParameter(
    "name", str, OpenApiParameter.PATH, description="the repository name, `/` included (`team/app`)"
)
_BATCH = f"At most {MAX_IMAGE_IDS} image ids (400 `max_length` beyond); each id succeeds or fails on its own."
_FAILURE_CODES = (
    "`failures` say why, per id, with Amazon ECR's codes: `MissingDigestAndTag`, `InvalidImageDigest`, "
    "`InvalidImageTag`, `ImageNotFound`, `ImageTagDoesNotMatchDigest` (the tag points at another digest)"
)


def _invalid(field: str, message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [ErrorDetail(message, code="invalid")]})


def _failure(digest: str | None, tag: str | None, failure: ImageFailure) -> dict:
    return {"imageId": image_id(digest, tag), "failureCode": failure.code, "failureReason": failure.reason}


class _ImagesView(AccountScopedView):
    @staticmethod
    def _image(repository: Repository, *, digest: str, tag: str | None, manifest: str, media_type: str) -> dict:
        return {
            "registryId": repository.account_id,
            "repositoryName": repository.name,
            "imageId": image_id(digest, tag),
            "imageManifest": manifest,
            "imageManifestMediaType": media_type,
        }


class ImageList(_ImagesView):
    # The field of PutImage's request each refusal of the push is about (apps.api.exceptions).
    domain_error_fields: ClassVar[dict[type[DomainError], str]] = {
        TagInvalid: "imageTag",
        DigestInvalid: "imageDigest",
        DomainError: "imageManifest",
    }

    @property
    def max_json_bytes(self) -> int:
        """PutImage's body: a JSON string escapes a manifest to at most three times its size."""
        return 3 * settings.BERTH_MAX_MANIFEST_BYTES + 64 * 1024

    @extend_schema(
        operation_id="listImages",
        summary="List image ids",
        description="Amazon ECR's ListImages: one image id per tag of each image, and one without `imageTag` "
        "per untagged image (an index's entries are usually untagged images), in push order, a page at a time. "
        "Pass a page's `next` token to get the following one.",
        parameters=[NAME, ImagesQuerySerializer],
        responses={200: ImageIdPageSerializer, **error_responses(400, 401, 403, 404)},
        tags=[IMAGES_TAG],
    )
    def get(self, request, name: str):
        repository = self.repository_named(name, action="ecr:ListImages")
        self.authorize("ecr:ListImages", repository=repository)
        query = ImagesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            page, next_token = selectors.list_images(
                repository,
                tag_status=query.validated_data["tagStatus"],
                limit=query.validated_data["max_results"],
                next_token=query.validated_data.get("next"),
            )
        except selectors.PageTokenInvalid as exc:
            raise _invalid("next", str(exc)) from None
        return Response(
            ImageIdPageSerializer(
                {"imageIds": [image_id(digest, tag) for digest, tag in page], "next": next_token}
            ).data
        )

    @extend_schema(
        operation_id="putImage",
        summary="Put an image manifest",
        description="Amazon ECR's PutImage: stores the manifest through the same checks as a `docker push` "
        "(format, every blob and manifest it references already in the repository, tag immutability), tagged "
        "with `imageTag` if given. Errors: 409 `image_tag_already_exists` (the tag is immutable and points at "
        "another image), 409 `image_already_exists` (the repository holds this manifest, and the tag already "
        "points at it), 400 `image_digest_does_not_match` (imageDigest is not the manifest's), 400 "
        "`layers_not_found` (a config or layer blob is not in the repository), 400 `referenced_images_not_found` "
        "(an index lists a manifest the repository lacks), 400 `invalid` (the manifest itself).",
        parameters=[NAME],
        request=PutImageSerializer,
        responses={
            201: ImageSerializer,
            **error_responses(400, 401, 403, 404, 409),
            413: OpenApiResponse(ErrorSerializer, description="`request_too_large`: a body no manifest needs"),
        },
        tags=[IMAGES_TAG],
    )
    def post(self, request, name: str):
        repository = self.repository_named(name, action="ecr:PutImage")
        self.authorize("ecr:PutImage", repository=repository)
        given = PutImageSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        tag = data.get("imageTag")
        manifest, changed = services.put_image(
            repository=repository,
            body=data["imageManifest"].encode(),
            media_type=data.get("imageManifestMediaType", ""),
            tag=tag,
            digest=data.get("imageDigest"),
            actor=self.actor,
            context=self.context,
        )
        if not changed:
            held = f"tagged {tag}" if tag is not None else "in the repository"
            raise Conflict(
                f"image {manifest.digest} is already {held}; the push changes nothing", code="image_already_exists"
            )
        body = self._image(
            repository, digest=manifest.digest, tag=tag, manifest=data["imageManifest"], media_type=manifest.media_type
        )
        return Response(ImageSerializer(body).data, status=status.HTTP_201_CREATED)


class ImageDescriptions(_ImagesView):
    @extend_schema(
        operation_id="describeImages",
        summary="Describe images",
        description="Amazon ECR's DescribeImages over the repository: each image once, with its tags, size, "
        "push and last pull times, media types, and (Berth's additions) layer count and platforms, in push "
        "order, a page at a time. Pass a page's `next` token to get the following one.",
        parameters=[NAME, ImagesQuerySerializer],
        responses={200: ImageDetailPageSerializer, **error_responses(400, 401, 403, 404)},
        tags=[IMAGES_TAG],
    )
    def get(self, request, name: str):
        repository = self.repository_named(name, action="ecr:DescribeImages")
        self.authorize("ecr:DescribeImages", repository=repository)
        query = ImagesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return self._page(repository, query.validated_data)

    @extend_schema(
        operation_id="describeImagesPost",
        summary="Describe images, by image ids",
        description="Amazon ECR's DescribeImages with a body: `imageIds` (at most "
        f"{MAX_IMAGE_IDS}) describes those images, each once, in the order asked; 404 `image_not_found` when one "
        "names no image, 400 with the id's failure code (`invalid_image_digest`, `invalid_image_tag`, "
        "`missing_digest_and_tag`, `image_tag_does_not_match_digest`) when one is malformed. Without imageIds, "
        "`tagStatus`, `max_results` and `next` page through the repository as the GET does; they cannot be "
        "combined with imageIds.",
        parameters=[NAME],
        request=DescribeImagesRequestSerializer,
        responses={200: ImageDetailPageSerializer, **error_responses(400, 401, 403, 404)},
        tags=[IMAGES_TAG],
    )
    def post(self, request, name: str):
        repository = self.repository_named(name, action="ecr:DescribeImages")
        self.authorize("ecr:DescribeImages", repository=repository)
        given = DescribeImagesRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        if "imageIds" not in data:
            return self._page(
                repository,
                {
                    "tagStatus": data.get("tagStatus", TagStatus.ANY),
                    "max_results": data.get("max_results", 100),
                    "next": data.get("next"),
                },
            )
        try:
            images = selectors.describe_images_by_id(repository, image_id_pairs(data["imageIds"]))
        except ImageFailure as failure:
            if failure.code == FailureCode.IMAGE_NOT_FOUND:
                raise exceptions.NotFound(failure.reason, code="image_not_found") from None
            raise exceptions.ValidationError(
                {"imageIds": {str(failure.index): [ErrorDetail(failure.reason, code=_snake(failure.code))]}}
            ) from None
        return Response(self._details(repository, images, next_token=None))

    def _page(self, repository: Repository, query: dict) -> Response:
        try:
            images, next_token = selectors.describe_images(
                repository, tag_status=query["tagStatus"], limit=query["max_results"], next_token=query.get("next")
            )
        except selectors.PageTokenInvalid as exc:
            raise _invalid("next", str(exc)) from None
        return Response(self._details(repository, images, next_token=next_token))

    @staticmethod
    def _details(repository: Repository, images, *, next_token: str | None) -> dict:
        images = list(images)
        prefetch_related_objects(images, "scan")
        page = {"imageDetails": images, "next": next_token}
        return ImageDetailPageSerializer(page, context={"repository": repository}).data


def _snake(code: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in code).lstrip("_")


class ImageBatchGet(_ImagesView):
    @extend_schema(
        operation_id="batchGetImage",
        summary="Get image manifests",
        description="Amazon ECR's BatchGetImage: each image's manifest, negotiated exactly as a registry pull "
        "with `acceptedMediaTypes` as its Accept header. By tag, an image stored in a format the caller does not "
        "accept is converted (Docker schema 2 and OCI both ways, an index's default-platform entry for a caller "
        "without index support, signed schema 1), and the conversion is kept so its digest stays addressable; "
        "by digest, the caller gets exactly the bytes with that digest. Without acceptedMediaTypes every image "
        f"comes as stored. Each image returned counts as a pull (lastRecordedPullTime). {_BATCH} "
        f"{_FAILURE_CODES}, and Berth's `UnsupportedImageType` (by tag, no accepted media type can carry it).",
        parameters=[NAME],
        request=BatchGetImageRequestSerializer,
        responses={200: BatchGetImageResponseSerializer, **error_responses(400, 401, 403, 404)},
        tags=[IMAGES_TAG],
    )
    def post(self, request, name: str):
        repository = self.repository_named(name, action="ecr:BatchGetImage")
        self.authorize("ecr:BatchGetImage", repository=repository)
        given = BatchGetImageRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        got, failed = negotiation.batch_get_image(
            repository,
            image_id_pairs(given.validated_data["imageIds"]),
            accepted=given.validated_data.get("acceptedMediaTypes"),
        )
        images = [
            self._image(
                repository, digest=image.digest, tag=image.tag, manifest=image.manifest, media_type=image.media_type
            )
            for image in got
        ]
        failures = [_failure(digest, tag, failure) for digest, tag, failure in failed]
        return Response(BatchGetImageResponseSerializer({"images": images, "failures": failures}).data)


class ImageBatchDelete(_ImagesView):
    @extend_schema(
        operation_id="batchDeleteImage",
        summary="Delete images or tags",
        description="Amazon ECR's BatchDeleteImage, as ECR documents it: by tag, the tag is removed, and the "
        "image with it when that was its last tag; by digest (or by a tag with the digest it points at), the "
        "image is deleted with all its tags. An image an index lists is not deleted, nor is its last tag removed: "
        "its failure is `ImageReferencedByManifestList` (delete the index first). Immutable tags may be deleted. "
        "Every removed tag is recorded in the tag history. `imageIds` in the answer lists what was deleted, one "
        "per tag removed (and one without `imageTag` for an untagged image). With `withDependents` (Berth's own), "
        "an image's referrers and the untagged entries only a deleted index listed go with it, and are listed too. "
        "A deleted image's layers stop being served from the repository at once; their bytes leave the store "
        f"once no repository links them and the collector's grace window has passed. {_BATCH} {_FAILURE_CODES}, "
        "`ImageReferencedByManifestList`.",
        parameters=[NAME],
        request=BatchDeleteImageRequestSerializer,
        responses={200: BatchDeleteImageResponseSerializer, **error_responses(400, 401, 403, 404)},
        tags=[IMAGES_TAG],
    )
    def post(self, request, name: str):
        repository = self.repository_named(name, action="ecr:BatchDeleteImage")
        self.authorize("ecr:BatchDeleteImage", repository=repository)
        given = BatchDeleteImageRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        done = services.batch_delete_image(
            repository=repository,
            image_ids=image_id_pairs(given.validated_data["imageIds"]),
            cascade=given.validated_data["withDependents"],
            actor=self.actor,
            context=self.context,
        )
        deleted = [image_id(digest, tag) for digest, tag in done.removed]
        failures = [_failure(digest, tag, failure) for digest, tag, failure in done.failures]
        return Response(BatchDeleteImageResponseSerializer({"imageIds": deleted, "failures": failures}).data)

"""ECR's image operations: DescribeImages, ListImages, BatchGetImage, PutImage,
BatchDeleteImage, ListImageReferrers, as the management API's images views
(apps/api/registry/views.py) do them: the same actions authorized, the same
services called.

ECR Public's DescribeImages, PutImage and BatchDeleteImage (apps.aws.ecr_public)
are these handlers too: a handler's actions are named after the service it was
called through (`ecr:PutImage`, `ecr-public:PutImage`), and `image_repository`
finds ECR Public's repositories among the account's public ones only."""

from __future__ import annotations

from django.core import signing
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import prefetch_related_objects

from apps.accounts.quotas import QuotaExceeded
from apps.kernel.digests import parse_digest
from apps.registry import negotiation
from apps.registry import selectors as registry_selectors
from apps.registry import services as registry_services
from apps.registry.exceptions import (
    BlobUploadUnknown,
    DigestMismatch,
    ManifestBlobUnknown,
    ReferencedManifestUnknown,
    StorageFull,
    TagImmutable,
)
from apps.registry.models import Manifest
from apps.registry.selectors import FailureCode, ImageFailure, TagStatus
from apps.repositories.models import Repository
from apps.scanning.selectors import findings_summary, scan_status

from .. import protocol
from ..errors import InvalidParameter, error
from ..operations import Call, domain_errors, operation

domain_errors(
    {
        TagImmutable: "ImageTagAlreadyExistsException",
        ManifestBlobUnknown: "LayersNotFoundException",
        ReferencedManifestUnknown: "ReferencedImagesNotFoundException",
        # A manifest's (CompleteLayerUpload says a layer's as InvalidLayerException itself).
        DigestMismatch: "ImageDigestDoesNotMatchException",
        BlobUploadUnknown: "UploadNotFoundException",
        StorageFull: "LimitExceededException",
        QuotaExceeded: "LimitExceededException",
    }
)

# DescribeImages and ListImages without maxResults: ECR's default page.
DEFAULT_PAGE = 100
# Image statuses other than ACTIVE: Berth archives nothing.
_NEVER = ("ARCHIVED", "ACTIVATING")


def image_action(operation_name: str) -> str:
    """The action an image or layer operation is authorized as, for ECR and ECR
    Public alike: `ecr:<Operation>`, as `/v2/` and the management API authorize the
    same reads and writes of a repository, so that no policy can be stepped round
    by calling another API."""
    return f"ecr:{operation_name}"


def image_repository(call: Call, operation_name: str) -> Repository:
    """The repository ``repositoryName`` names, for ``operation_name`` of the
    service called: ECR's among all the account's repositories, ECR Public's among
    its public ones only (Call.repository). Starts the audit event of the
    operation's action."""
    return call.repository(call.params["repositoryName"], action=image_action(operation_name))


def authorized_repository(call: Call, operation_name: str, **request_parameters) -> Repository:
    """image_repository, with the operation's action authorized on it."""
    repository = image_repository(call, operation_name)
    call.authorize(image_action(operation_name), repository=repository, **request_parameters)
    return repository


def image_id_pairs(image_ids: list[dict]) -> list[tuple[str | None, str | None]]:
    """(digest, tag) of each ImageIdentifier, each distinct one once, in the order given."""
    return list(dict.fromkeys((image_id.get("imageDigest"), image_id.get("imageTag")) for image_id in image_ids))


def image_id(digest: str | None, tag: str | None) -> dict:
    return {"imageDigest": digest, "imageTag": tag}


def image_failure(digest: str | None, tag: str | None, failure: ImageFailure) -> dict:
    return {"imageId": image_id(digest, tag), "failureCode": failure.code, "failureReason": failure.reason}


def _scan(manifest: Manifest):
    try:
        return manifest.scan
    except ObjectDoesNotExist:
        return None


def referenced_image_detail(manifest: Manifest) -> dict:
    """What ECR and ECR Public say of any image (ECR Public's ReferencedImageDetail)."""
    return {
        "imageDigest": manifest.digest,
        "imageSizeInBytes": manifest.total_size,  # None (left out) while it is being measured
        "imagePushedAt": manifest.created_at,
        "imageManifestMediaType": manifest.media_type,
        "artifactMediaType": manifest.artifact_type or manifest.config_media_type or None,
    }


def image_details(call: Call, repository: Repository, images: list[Manifest]) -> list[dict]:
    """The ImageDetail of each image of ``images`` (from the describe_images selectors),
    in the shape of the service called: ECR's has the scan and the last pull."""
    public = call.service == protocol.ECR_PUBLIC
    if not public:
        prefetch_related_objects(images, "scan")
    details = []
    for manifest in images:
        detail = {
            "registryId": repository.account_id,
            "repositoryName": repository.name,
            **referenced_image_detail(manifest),
            "imageTags": sorted(tag.name for tag in manifest.tags.all()) or None,
            "subjectManifestDigest": manifest.subject_digest or None,
            "imageStatus": "ACTIVE",
        }
        if not public:
            scan = _scan(manifest)
            detail |= {
                "lastRecordedPullTime": manifest.last_pulled_at,
                "imageScanStatus": scan_status(scan),
                "imageScanFindingsSummary": findings_summary(scan),
            }
        details.append(detail)
    return details


def _tag_status(call: Call) -> str | None:
    """The filter's tagStatus; None when its imageStatus names a status no Berth image has."""
    given = call.params.get("filter") or {}
    if given.get("imageStatus") in _NEVER:
        return None
    return given.get("tagStatus", TagStatus.ANY)


def _no_paging_with_ids(call: Call) -> None:
    if "nextToken" in call.params or "maxResults" in call.params:
        raise InvalidParameter("nextToken and maxResults cannot be given with imageIds")


@operation(protocol.ECR, "DescribeImages")
def describe_images(call: Call) -> dict:
    repository = authorized_repository(call, "DescribeImages")
    params = call.params
    if params.get("imageIds"):
        _no_paging_with_ids(call)
        try:
            images = registry_selectors.describe_images_by_id(repository, image_id_pairs(params["imageIds"]))
        except ImageFailure as failure:
            if failure.code == FailureCode.IMAGE_NOT_FOUND:
                raise error("ImageNotFoundException", failure.reason) from None
            raise InvalidParameter(f"imageIds[{failure.index}]: {failure.code}: {failure.reason}") from None
        return {"imageDetails": image_details(call, repository, images)}
    tag_status = _tag_status(call)
    if tag_status is None:
        return {"imageDetails": []}
    images, next_token = registry_selectors.describe_images(
        repository,
        tag_status=tag_status,
        limit=params.get("maxResults", DEFAULT_PAGE),
        next_token=params.get("nextToken"),
    )
    return {"imageDetails": image_details(call, repository, images), "nextToken": next_token}


@operation(protocol.ECR, "ListImages")
def list_images(call: Call) -> dict:
    repository = authorized_repository(call, "ListImages")
    tag_status = _tag_status(call)
    if tag_status is None:
        return {"imageIds": []}
    page, next_token = registry_selectors.list_images(
        repository,
        tag_status=tag_status,
        limit=call.params.get("maxResults", DEFAULT_PAGE),
        next_token=call.params.get("nextToken"),
    )
    return {"imageIds": [image_id(digest, tag) for digest, tag in page], "nextToken": next_token}


def image(repository: Repository, *, digest: str, tag: str | None, manifest: str, media_type: str) -> dict:
    return {
        "registryId": repository.account_id,
        "repositoryName": repository.name,
        "imageId": image_id(digest, tag),
        "imageManifest": manifest,
        "imageManifestMediaType": media_type,
    }


@operation(protocol.ECR, "BatchGetImage")
def batch_get_image(call: Call) -> dict:
    repository = authorized_repository(call, "BatchGetImage")
    got, failed = negotiation.batch_get_image(
        repository, image_id_pairs(call.params["imageIds"]), accepted=call.params.get("acceptedMediaTypes")
    )
    return {
        "images": [
            image(repository, digest=item.digest, tag=item.tag, manifest=item.manifest, media_type=item.media_type)
            for item in got
        ],
        "failures": [image_failure(digest, tag, failure) for digest, tag, failure in failed],
    }


@operation(protocol.ECR, "PutImage")
def put_image(call: Call) -> dict:
    repository = authorized_repository(call, "PutImage")
    params = call.params
    tag = params.get("imageTag")
    manifest, changed = registry_services.put_image(
        repository=repository,
        body=params["imageManifest"].encode(),
        media_type=params.get("imageManifestMediaType", ""),
        tag=tag,
        digest=params.get("imageDigest"),
        actor=call.actor,
        context=call.context,
    )
    if not changed:
        held = f"tagged {tag}" if tag is not None else "in the repository"
        raise error(
            "ImageAlreadyExistsException", f"image {manifest.digest} is already {held}; the push changes nothing"
        )
    return {
        "image": image(
            repository,
            digest=manifest.digest,
            tag=tag,
            manifest=params["imageManifest"],
            media_type=manifest.media_type,
        )
    }


@operation(protocol.ECR, "BatchDeleteImage")
def batch_delete_image(call: Call) -> dict:
    repository = authorized_repository(call, "BatchDeleteImage")
    done = registry_services.batch_delete_image(
        repository=repository,
        image_ids=image_id_pairs(call.params["imageIds"]),
        cascade=False,
        actor=call.actor,
        context=call.context,
    )
    return {
        "imageIds": [image_id(digest, tag) for digest, tag in done.removed],
        "failures": [image_failure(digest, tag, failure) for digest, tag, failure in done.failures],
    }


# -- ListImageReferrers --------------------------------------------------------------------

_REFERRERS_PAGE_SALT = "berth.aws.referrers.page"
# ECR's default page of referrers.
DEFAULT_REFERRERS_PAGE = 50


def _referrers_after(repository: Repository, subject: str, token: str) -> int:
    try:
        page = signing.loads(token, salt=_REFERRERS_PAGE_SALT)
    except signing.BadSignature:
        raise InvalidParameter("the nextToken is not one this API handed out") from None
    if page.get("repository") != repository.pk or page.get("subject") != subject:
        raise InvalidParameter("the nextToken belongs to another listing")
    return page["offset"]


@operation(protocol.ECR, "ListImageReferrers")
def list_image_referrers(call: Call) -> dict:
    """The manifests whose subject is the image, as /v2/'s referrers API lists them
    (and with its action, ecr:BatchGetImage: ECR's ecr:ListImageReferrers is not
    among the actions Berth's policies know)."""
    params = call.params
    subject = params["subjectId"]["imageDigest"]
    repository = image_repository(call, "ListImageReferrers")
    call.authorize("ecr:BatchGetImage", repository=repository, subjectDigest=subject[:200])
    parse_digest(subject)
    given = params.get("filter") or {}
    if given.get("artifactStatus") in _NEVER:
        return {"referrers": []}
    found = registry_selectors.referrers(repository, subject, artifact_type=None)
    types = set(given.get("artifactTypes") or ())
    if types:
        found = [m for m in found if (m.artifact_type or m.config_media_type) in types]
    offset = _referrers_after(repository, subject, params["nextToken"]) if params.get("nextToken") else 0
    limit = params.get("maxResults", DEFAULT_REFERRERS_PAGE)
    page = found[offset : offset + limit]
    next_token = None
    if offset + limit < len(found):
        next_token = signing.dumps(
            {"repository": repository.pk, "subject": subject, "offset": offset + limit}, salt=_REFERRERS_PAGE_SALT
        )
    return {
        "referrers": [
            {
                "digest": m.digest,
                "mediaType": m.media_type,
                "artifactType": m.artifact_type or m.config_media_type or None,
                "size": m.size,
                "annotations": m.annotations or None,
                "artifactStatus": "ACTIVE",
            }
            for m in page
        ],
        "nextToken": next_token,
    }

"""ECR's layer operations: InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload,
BatchCheckLayerAvailability, GetDownloadUrlForLayer, on the registry's upload and
blob services, with the actions /v2/'s upload and blob endpoints authorize
(apps/registry/v2/uploads.py, blobs.py). ECR Public's four upload operations are
these handlers too (apps.aws.ecr_public).

An upload is one of the registry's upload sessions: a `docker push` could go on
with it over /v2/, and a layer completed here is the blob /v2/ serves."""

from __future__ import annotations

import io

from apps.accounts import links
from apps.kernel.digests import DigestInvalid, parse_digest
from apps.registry import selectors as registry_selectors
from apps.registry import services as registry_services
from apps.registry import traffic
from apps.registry.exceptions import BlobUploadBusy, DigestMismatch, UploadOffsetMismatch
from apps.registry.storage import encryption as storage_encryption
from apps.registry.storage import get_blob_store

from .. import protocol
from ..errors import InvalidParameter, error
from ..operations import Call, domain_errors, operation
from .images import authorized_repository

domain_errors(
    {
        UploadOffsetMismatch: "InvalidLayerPartException",
        BlobUploadBusy: "InvalidLayerPartException",
    }
)

# The part size InitiateLayerUpload advises; UploadLayerPart takes parts of up to
# 20 MiB (the model's limit), of any size: Berth has no minimum part.
PART_SIZE = 10 * 1024 * 1024


def _upload(call: Call, repository):
    return registry_services.get_upload(repository=repository, upload_id=call.params["uploadId"])


@operation(protocol.ECR, "InitiateLayerUpload")
def initiate_layer_upload(call: Call) -> dict:
    repository = authorized_repository(call, "InitiateLayerUpload")
    upload = registry_services.start_upload(repository=repository, actor=call.actor, context=call.context)
    return {"uploadId": str(upload.id), "partSize": PART_SIZE}


@operation(protocol.ECR, "UploadLayerPart")
def upload_layer_part(call: Call) -> dict:
    params = call.params
    repository = authorized_repository(call, "UploadLayerPart", uploadId=params["uploadId"][:64])
    first, last, part = params["partFirstByte"], params["partLastByte"], params["layerPartBlob"]
    if last < first or last - first + 1 != len(part):
        raise error(
            "InvalidLayerPartException",
            f"the part holds {len(part)} bytes, but partFirstByte {first} and partLastByte {last} span "
            f"{max(0, last - first + 1)}",
        )
    upload = _upload(call, repository)
    size = registry_services.append_to_upload(
        upload=upload, stream=io.BytesIO(part), offset=first, length=len(part), actor=call.actor, context=call.context
    )
    return {
        "registryId": repository.account_id,
        "repositoryName": repository.name,
        "uploadId": str(upload.id),
        "lastByteReceived": size - 1,
    }


@operation(protocol.ECR, "CompleteLayerUpload")
def complete_layer_upload(call: Call) -> dict:
    params = call.params
    digests = list(dict.fromkeys(params["layerDigests"]))
    if len(digests) != 1:
        raise InvalidParameter("an upload is one layer: give its one digest in layerDigests")
    digest = digests[0]
    repository = authorized_repository(
        call, "CompleteLayerUpload", uploadId=params["uploadId"][:64], layerDigest=digest[:200]
    )
    parse_digest(digest)
    upload = _upload(call, repository)
    if upload.size == 0:
        raise error("EmptyUploadException", f"upload {upload.id} holds no bytes; upload the layer's parts first")
    if registry_selectors.linked_blob(repository, digest) is not None:
        raise error("LayerAlreadyExistsException", f"layer {digest} is already in the repository")
    try:
        blob = registry_services.complete_upload(upload=upload, digest=digest, actor=call.actor, context=call.context)
    except DigestMismatch as exc:
        raise error("InvalidLayerException", f"{exc.message}; the upload is discarded") from None
    return {
        "registryId": repository.account_id,
        "repositoryName": repository.name,
        "uploadId": str(upload.id),
        "layerDigest": blob.digest,
    }


@operation(protocol.ECR, "BatchCheckLayerAvailability")
def batch_check_layer_availability(call: Call) -> dict:
    repository = authorized_repository(call, "BatchCheckLayerAvailability")
    asked = list(dict.fromkeys(call.params["layerDigests"]))
    failures, valid = [], []
    for digest in asked:
        if not digest:
            failures.append(
                {"layerDigest": digest, "failureCode": "MissingLayerDigest", "failureReason": "no digest given"}
            )
            continue
        try:
            parse_digest(digest)
        except DigestInvalid as exc:
            failures.append({"layerDigest": digest, "failureCode": "InvalidLayerDigest", "failureReason": exc.message})
            continue
        valid.append(digest)
    linked = registry_selectors.linked_blobs_among(repository, valid)
    layers = []
    for digest in valid:
        blob = linked.get(digest)
        if blob is None:
            failures.append(
                {
                    "layerDigest": digest,
                    "failureCode": "MissingLayerDigest",
                    "failureReason": "Could not find layer: it is not in the repository",
                }
            )
        else:
            layers.append({"layerDigest": digest, "layerAvailability": "AVAILABLE", "layerSize": blob.size})
    return {"layers": layers, "failures": failures}


@operation(protocol.ECR, "GetDownloadUrlForLayer")
def get_download_url_for_layer(call: Call) -> dict:
    """Where the layer's bytes are: the store's presigned URL where the blob store
    redirects /v2/'s blob GETs to it (S3 with BERTH_S3_REDIRECT), fetched without
    credentials until it expires; else the repository's /v2/ blob URL, which takes
    a bearer token from the token service (as any registry pull: the 401's
    challenge names it; `AWS` and a GetAuthorizationToken password get one)."""
    digest = call.params["layerDigest"]
    repository = authorized_repository(call, "GetDownloadUrlForLayer", layerDigest=digest[:200])
    parse_digest(digest)
    blob = registry_selectors.linked_blob(repository, digest)
    if blob is None and registry_selectors.pending_blob(repository, digest) is None:
        raise error("LayersNotFoundException", f"layer {digest} is not in the repository")
    if blob is not None:
        presigned = get_blob_store().redirect_url(blob.digest, storage_encryption.of(repository))
        if presigned:
            # Counted as /v2/ counts a redirected GET: the store sends the bytes for this caller.
            traffic.served(repository, anonymous=False, size=blob.size)
            return {"downloadUrl": presigned, "layerDigest": blob.digest}
    # A pull-through cache's layer not fetched yet is fetched by the /v2/ GET.
    url = f"{links.site_url(call.request)}/v2/{repository.account_id}/{repository.name}/blobs/{digest}"
    return {"downloadUrl": url, "layerDigest": digest}

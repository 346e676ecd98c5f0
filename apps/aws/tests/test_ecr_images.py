"""ECR's and ECR Public's image and layer operations in process: the refusals each
answers with the name botocore's model gives it, ListImageReferrers, and ECR
Public's reach (public repositories only). Requests are serialized and signed by
botocore, as a client would send them (the live tests are tests/aws/)."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.aws import protocol
from apps.iam import services as iam_services
from apps.iam.models import ManagedPolicy
from apps.registry.tests.conftest import moto_endpoint, s3_settings  # noqa: F401  (fixtures)
from apps.repositories import services as repository_services
from apps.repositories.models import Visibility

from .conftest import AwsClient, new_access_key, user_of

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def key(tenant):
    return new_access_key(user_of(tenant))


@pytest.fixture
def ecr(key):
    return AwsClient(*key)


@pytest.fixture
def ecr_public(key):
    return AwsClient(*key, service=protocol.ECR_PUBLIC)


def repository(tenant, name: str, *, public: bool = False):
    return repository_services.create_repository(
        account=tenant.account,
        name=name,
        visibility=Visibility.PUBLIC if public else Visibility.PRIVATE,
        actor=Actor.system("test"),
    )


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_layer_uploads_refuse_as_ecr_does(tenant, ecr):
    repository(tenant, "layers")
    upload_id = ecr.ok("InitiateLayerUpload", repositoryName="layers")["uploadId"]
    part = b"x" * 100
    assert (
        ecr.refused(
            "UploadLayerPart",
            repositoryName="layers",
            uploadId=upload_id,
            partFirstByte=0,
            partLastByte=98,
            layerPartBlob=part,
        )
        == "InvalidLayerPartException"
    )
    # not where the upload ends
    assert (
        ecr.refused(
            "UploadLayerPart",
            repositoryName="layers",
            uploadId=upload_id,
            partFirstByte=5,
            partLastByte=104,
            layerPartBlob=part,
        )
        == "InvalidLayerPartException"
    )
    assert (
        ecr.refused(
            "UploadLayerPart",
            repositoryName="layers",
            uploadId="00000000-0000-4000-8000-000000000000",
            partFirstByte=0,
            partLastByte=99,
            layerPartBlob=part,
        )
        == "UploadNotFoundException"
    )
    assert (
        ecr.refused("CompleteLayerUpload", repositoryName="layers", uploadId=upload_id, layerDigests=[digest_of(b"")])
        == "EmptyUploadException"
    )
    ecr.ok(
        "UploadLayerPart",
        repositoryName="layers",
        uploadId=upload_id,
        partFirstByte=0,
        partLastByte=99,
        layerPartBlob=part,
    )
    assert (
        ecr.refused(
            "CompleteLayerUpload",
            repositoryName="layers",
            uploadId=upload_id,
            layerDigests=[digest_of(b"a"), digest_of(b"b")],
        )
        == "InvalidParameterException"
    )
    assert (
        ecr.refused("CompleteLayerUpload", repositoryName="layers", uploadId=upload_id, layerDigests=[digest_of(b"y")])
        == "InvalidLayerException"
    )
    assert ecr.refused("InitiateLayerUpload", repositoryName="missing") == "RepositoryNotFoundException"
    checked = ecr.ok("BatchCheckLayerAvailability", repositoryName="layers", layerDigests=["sha256:nothex", ""])
    assert checked["layers"] == []
    assert [f["failureCode"] for f in checked["failures"]] == ["InvalidLayerDigest", "MissingLayerDigest"]
    assert (
        ecr.refused("GetDownloadUrlForLayer", repositoryName="layers", layerDigest="sha256:nothex")
        == "InvalidParameterException"
    )


def test_image_listings_refuse_and_filter(tenant, ecr, registry_client):
    repository(tenant, "listed")
    client = registry_client(tenant)
    digest, _ = client.push_image(f"{tenant.id}/listed", "v1")
    assert (
        ecr.refused("DescribeImages", repositoryName="listed", imageIds=[{"imageTag": "v1"}], maxResults=5)
        == "InvalidParameterException"
    )
    status, body = ecr("DescribeImages", repositoryName="listed", imageIds=[{"imageDigest": "sha256:short"}])
    assert (status, body["__type"]) == (400, "InvalidParameterException")
    assert "InvalidImageDigest" in body["message"]
    assert ecr.refused("ListImages", repositoryName="listed", nextToken="forged") == "InvalidParameterException"
    assert ecr.ok("ListImages", repositoryName="listed", filter={"imageStatus": "ARCHIVED"})["imageIds"] == []
    assert ecr.ok("ListImages", repositoryName="listed", filter={"tagStatus": "TAGGED"})["imageIds"] == [
        {"imageDigest": digest, "imageTag": "v1"}
    ]
    detail = ecr.ok("DescribeImages", repositoryName="listed", filter={"tagStatus": "TAGGED"})["imageDetails"][0]
    assert detail["imageDigest"] == digest and detail["imageStatus"] == "ACTIVE"
    assert "imageScanStatus" not in detail  # never scanned
    assert ecr.refused("PutImage", repositoryName="listed", imageManifest="{not json") == "InvalidParameterException"


def test_list_image_referrers(tenant, ecr, registry_client):
    repository(tenant, "signed")
    client = registry_client(tenant)
    name = f"{tenant.id}/signed"
    subject, manifest = client.push_image(name, "v1")
    empty = client.push_blob(name, b"{}")
    referrers = []
    for artifact_type in ("application/vnd.example.sig", "application/vnd.example.sbom"):
        referrer = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(json.dumps(manifest))},
        }
        response = client.push_manifest(name, digest_of(json.dumps(referrer).encode()), referrer)
        assert response.status_code == 201, response.content
        referrers.append(response["Docker-Content-Digest"])
    first = ecr.ok("ListImageReferrers", repositoryName="signed", subjectId={"imageDigest": subject}, maxResults=1)
    second = ecr.ok(
        "ListImageReferrers",
        repositoryName="signed",
        subjectId={"imageDigest": subject},
        maxResults=1,
        nextToken=first["nextToken"],
    )
    assert [r["digest"] for r in first["referrers"] + second["referrers"]] == referrers
    assert "nextToken" not in second
    assert first["referrers"][0]["artifactType"] == "application/vnd.example.sig"
    typed = ecr.ok(
        "ListImageReferrers",
        repositoryName="signed",
        subjectId={"imageDigest": subject},
        filter={"artifactTypes": ["application/vnd.example.sbom"]},
    )
    assert [r["digest"] for r in typed["referrers"]] == referrers[1:]


def test_ecr_public_reaches_public_repositories_only(tenant, ecr_public):
    repository(tenant, "private/app")
    repository(tenant, "public/app", public=True)
    for operation, params in [
        ("DescribeImages", {}),
        ("DescribeImageTags", {}),
        ("InitiateLayerUpload", {}),
        ("BatchCheckLayerAvailability", {"layerDigests": [digest_of(b"")]}),
        ("BatchDeleteImage", {"imageIds": [{"imageTag": "v1"}]}),
    ]:
        assert ecr_public.refused(operation, repositoryName="private/app", **params) == "RepositoryNotFoundException"
        assert ecr_public(operation, repositoryName="public/app", **params)[0] == 200, operation
    data = ecr_public.ok("GetAuthorizationToken")["authorizationData"]
    assert set(data) == {"authorizationToken", "expiresAt"}


@pytest.mark.usefixtures("s3_settings")
def test_download_url_is_the_stores_presigned_url_where_v2_redirects(tenant, ecr, registry_client):
    repository(tenant, "stored")
    client = registry_client(tenant)
    data = b"layer bytes in S3" * 100
    digest = client.push_blob(f"{tenant.id}/stored", data)
    url = ecr.ok("GetDownloadUrlForLayer", repositoryName="stored", layerDigest=digest)["downloadUrl"]
    assert "X-Amz-Signature=" in url  # presigned: fetched without credentials
    with requests.Session() as http:
        http.trust_env = False  # moto is on 127.0.0.1: no proxy from the environment
        fetched = http.get(url, timeout=10)
    assert fetched.status_code == 200 and fetched.content == data


def test_a_read_only_user_reads_and_is_refused_writes(tenant, registry_client):
    """The actions the REST API and /v2/ authorize, decided by the same policies."""
    repository(tenant, "guarded")
    registry_client(tenant).push_image(f"{tenant.id}/guarded", "v1")
    reader = iam_services.create_user(account=tenant.account, username="reader", actor=Actor.system("test"))
    iam_services.attach_policy(
        account=tenant.account,
        managed_policy=ManagedPolicy.objects.get(name="BerthRegistryReadOnly"),
        user=reader,
        actor=Actor.system("test"),
    )
    new = account_services.create_access_key(user=reader, actor=Actor.system("test"))
    ecr = AwsClient(new.access_key.access_key_id, new.secret)
    assert [d["imageTags"] for d in ecr.ok("DescribeImages", repositoryName="guarded")["imageDetails"]] == [["v1"]]
    got = ecr.ok("BatchGetImage", repositoryName="guarded", imageIds=[{"imageTag": "v1"}])
    manifest = got["images"][0]["imageManifest"]
    for operation, params in [
        ("PutImage", {"imageManifest": manifest, "imageTag": "v2"}),
        ("BatchDeleteImage", {"imageIds": [{"imageTag": "v1"}]}),
        ("InitiateLayerUpload", {}),
    ]:
        status, body = ecr(operation, repositoryName="guarded", **params)
        assert (status, body["__type"]) == (400, "AccessDeniedException"), operation
        assert f"ecr:{operation}" in body["message"]
    assert ecr.ok("ListImages", repositoryName="guarded")["imageIds"][0]["imageTag"] == "v1"

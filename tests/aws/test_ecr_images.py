"""ECR's and ECR Public's image, layer and token operations through boto3 against a
live `berth serve`, with skopeo as the registry client: GetAuthorizationToken's
password logs skopeo in (user `AWS`) and pushes; the images are then described,
listed, fetched, tagged, refused and deleted through the AWS API; a layer uploaded
in parts through it is available, referenced by a PutImage, and fetched from
GetDownloadUrlForLayer's URL."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

from tests.aws.conftest import REGION
from tests.e2e import images as I
from tests.e2e.conftest import need, run_isolated

pytestmark = pytest.mark.e2e


def skopeo(tmp: Path, *args: str, input: str | None = None):
    need("skopeo")
    return run_isolated(["skopeo", *args], tmp, input=input)


def login_password(authorization_data: dict) -> str:
    user, _, password = base64.b64decode(authorization_data["authorizationToken"]).decode().partition(":")
    assert user == "AWS"
    return password


def skopeo_login_and_push(berth, tmp: Path, password: str, image: I.Image, reference: str) -> None:
    """`skopeo login --username AWS` with the password, then a push of ``image`` with the stored credentials."""
    skopeo(tmp, "login", "--tls-verify=false", "--username", "AWS", "--password-stdin", berth.host, input=password)
    authfile = tmp / "auth.json"
    assert base64.b64decode(json.loads(authfile.read_text())["auths"][berth.host]["auth"]).decode() == (
        f"AWS:{password}"
    )
    skopeo(
        tmp,
        "copy",
        "--authfile",
        str(authfile),
        "--dest-tls-verify=false",
        f"oci:{image.path}:{image.tag}",
        f"docker://{berth.host}/{reference}",
    )


def aws_cli(aws_account, *args: str) -> str:
    """The AWS CLI's output for ``args``, signed with the account's root access key."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": aws_account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": aws_account.secret_access_key,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    done = subprocess.run(
        [need("aws"), *args, "--endpoint-url", aws_account.server.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def paged(call, key: str, **params) -> tuple[list, int]:
    """Every item of a listing a page at a time, and how many pages it took."""
    items, pages, token = [], 0, None
    while True:
        page = call(**params, **({"nextToken": token} if token else {}))
        items += page[key]
        pages += 1
        token = page.get("nextToken")
        if not token:
            return items, pages


def upload_layer(client, repository: str, data: bytes, digest: str, *, part_size: int) -> None:
    upload_id = client.initiate_layer_upload(repositoryName=repository)["uploadId"]
    for first in range(0, len(data), part_size):
        part = data[first : first + part_size]
        answer = client.upload_layer_part(
            repositoryName=repository,
            uploadId=upload_id,
            partFirstByte=first,
            partLastByte=first + len(part) - 1,
            layerPartBlob=part,
        )
        assert answer["lastByteReceived"] == first + len(part) - 1
    done = client.complete_layer_upload(repositoryName=repository, uploadId=upload_id, layerDigests=[digest])
    assert done["layerDigest"] == digest and done["uploadId"] == upload_id


def fetch_with_registry_token(berth, url: str, password: str) -> bytes:
    """GET a /v2/ URL as a registry client does: the 401's challenge names the
    token service, which a Basic `AWS:<password>` gets a bearer token from."""
    challenged = requests.get(url, timeout=30)
    assert challenged.status_code == 401
    challenge = challenged.headers["WWW-Authenticate"].removeprefix("Bearer ")
    fields = dict(part.split("=", 1) for part in challenge.split(","))
    fields = {key: value.strip('"') for key, value in fields.items()}
    token = requests.get(
        fields["realm"],
        params={"service": fields["service"], "scope": fields["scope"]},
        auth=("AWS", password),
        timeout=30,
    )
    assert token.status_code == 200, token.text
    fetched = requests.get(url, headers={"Authorization": f"Bearer {token.json()['token']}"}, timeout=30)
    assert fetched.status_code == 200, fetched.text
    return fetched.content


def test_ecr_images_layers_and_tokens(berth, aws_account, ecr, tmp_path):
    account_id = aws_account.account_id
    ecr.create_repository(repositoryName="img/app")

    # GetAuthorizationToken: `AWS:<password>`, which skopeo logs in and pushes with.
    data = ecr.get_authorization_token()["authorizationData"]
    assert len(data) == 1 and data[0]["proxyEndpoint"] == berth.url
    password = login_password(data[0])
    assert aws_cli(aws_account, "ecr", "get-login-password").startswith("blp1.")
    pushed = [I.build_oci_image(tmp_path / f"image-{tag}", tag=tag) for tag in ("v1", "v2", "v3")]
    for image in pushed:
        skopeo_login_and_push(berth, tmp_path / "skopeo", password, image, f"{account_id}/img/app:{image.tag}")
    digests = [image.manifest_digest for image in pushed]

    # DescribeImages and ListImages, a page at a time.
    details, pages = paged(ecr.describe_images, "imageDetails", repositoryName="img/app", maxResults=1)
    assert pages == 3
    assert [d["imageDigest"] for d in details] == digests
    assert [d["imageTags"] for d in details] == [["v1"], ["v2"], ["v3"]]
    assert all(d["registryId"] == account_id and d["imageManifestMediaType"] == I.OCI_MANIFEST for d in details)
    assert all(d["artifactMediaType"] == I.OCI_CONFIG and d["imagePushedAt"] for d in details)
    ids, pages = paged(ecr.list_images, "imageIds", repositoryName="img/app", maxResults=2)
    assert pages == 2
    assert ids == [{"imageDigest": image.manifest_digest, "imageTag": image.tag} for image in pushed]
    assert ecr.list_images(repositoryName="img/app", filter={"tagStatus": "UNTAGGED"})["imageIds"] == []
    by_id = ecr.describe_images(repositoryName="img/app", imageIds=[{"imageTag": "v2"}])["imageDetails"]
    assert [d["imageDigest"] for d in by_id] == [digests[1]]
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.describe_images(repositoryName="img/app", imageIds=[{"imageTag": "missing"}])

    # BatchGetImage, then PutImage of a new tag from the manifest it got.
    got = ecr.batch_get_image(
        repositoryName="img/app",
        imageIds=[{"imageTag": "v1"}, {"imageTag": "missing"}],
        acceptedMediaTypes=[I.OCI_MANIFEST],
    )
    assert [image["imageId"] for image in got["images"]] == [{"imageDigest": digests[0], "imageTag": "v1"}]
    manifest = got["images"][0]["imageManifest"]
    assert manifest.encode() == pushed[0].manifest
    assert [(f["imageId"], f["failureCode"]) for f in got["failures"]] == [({"imageTag": "missing"}, "ImageNotFound")]
    put = ecr.put_image(repositoryName="img/app", imageManifest=manifest, imageTag="release")["image"]
    assert put["imageId"] == {"imageDigest": digests[0], "imageTag": "release"}
    with pytest.raises(ecr.exceptions.ImageAlreadyExistsException):
        ecr.put_image(repositoryName="img/app", imageManifest=manifest, imageTag="release")
    described = ecr.describe_images(repositoryName="img/app", imageIds=[{"imageDigest": digests[0]}])
    assert described["imageDetails"][0]["imageTags"] == ["release", "v1"]

    # BatchDeleteImage: what was deleted, and the unknown id among the failures.
    deleted = ecr.batch_delete_image(
        repositoryName="img/app", imageIds=[{"imageTag": "v3"}, {"imageDigest": "sha256:" + "0" * 64}]
    )
    assert deleted["imageIds"] == [{"imageDigest": digests[2], "imageTag": "v3"}]
    assert [(f["imageId"], f["failureCode"]) for f in deleted["failures"]] == [
        ({"imageDigest": "sha256:" + "0" * 64}, "ImageNotFound")
    ]

    # A layer uploaded in parts through the API, into an immutable repository.
    ecr.create_repository(repositoryName="img/locked", imageTagMutability="IMMUTABLE")
    image = I.build_oci_image(tmp_path / "uploaded", tag="one")
    blobs = {digest: I.layout_blob(image.path, digest).read_bytes() for digest in image.blob_digests}
    layer = image.layer_digests[0]
    assert len(blobs[layer]) > 1000
    for digest, blob in blobs.items():
        upload_layer(ecr, "img/locked", blob, digest, part_size=1000 if digest == layer else len(blob))
    with pytest.raises(ecr.exceptions.LayerAlreadyExistsException):
        upload_layer(ecr, "img/locked", blobs[layer], layer, part_size=len(blobs[layer]))
    unknown = "sha256:" + "1" * 64
    checked = ecr.batch_check_layer_availability(repositoryName="img/locked", layerDigests=[*blobs, unknown])
    assert {(layer["layerDigest"], layer["layerAvailability"], layer["layerSize"]) for layer in checked["layers"]} == {
        (digest, "AVAILABLE", len(blob)) for digest, blob in blobs.items()
    }
    assert [(f["layerDigest"], f["failureCode"]) for f in checked["failures"]] == [(unknown, "MissingLayerDigest")]
    put = ecr.put_image(repositoryName="img/locked", imageManifest=image.manifest.decode(), imageTag="one")["image"]
    assert put["imageId"]["imageDigest"] == image.manifest_digest
    # The same layers in another manifest: the immutable tag does not move to it.
    moved = json.loads(image.manifest) | {"annotations": {"moved": "yes"}}
    with pytest.raises(ecr.exceptions.ImageTagAlreadyExistsException):
        ecr.put_image(repositoryName="img/locked", imageManifest=json.dumps(moved), imageTag="one")
    with pytest.raises(ecr.exceptions.ImageDigestDoesNotMatchException):
        ecr.put_image(repositoryName="img/locked", imageManifest=json.dumps(moved), imageTag="two", imageDigest=unknown)
    manifest_without_layers = json.loads(image.manifest)
    manifest_without_layers["layers"][0]["digest"] = unknown
    with pytest.raises(ecr.exceptions.LayersNotFoundException):
        ecr.put_image(repositoryName="img/locked", imageManifest=json.dumps(manifest_without_layers))

    # GetDownloadUrlForLayer's URL serves the layer to a registry client.
    url = ecr.get_download_url_for_layer(repositoryName="img/locked", layerDigest=layer)["downloadUrl"]
    assert url == f"{berth.url}/v2/{account_id}/img/locked/blobs/{layer}"
    assert fetch_with_registry_token(berth, url, password) == blobs[layer]
    with pytest.raises(ecr.exceptions.LayersNotFoundException):
        ecr.get_download_url_for_layer(repositoryName="img/locked", layerDigest=unknown)


def test_a_role_sessions_authorization_token_pushes(berth, aws_account, tmp_path):
    iam_api = requests.Session()
    iam_api.auth = (aws_account.access_key_id, aws_account.secret_access_key)
    account_id = aws_account.account_id
    root = f"arn:berth:iam::{account_id}:root"
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": root}, "Action": "sts:AssumeRole"}],
    }
    created = iam_api.post(
        f"{berth.url}/api/v1/iam/roles",
        json={"roleName": "pusher", "assumeRolePolicyDocument": json.dumps(trust)},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    attached = iam_api.post(
        f"{berth.url}/api/v1/iam/roles/pusher/policies", json={"policyArn": "BerthRegistryPowerUser"}, timeout=30
    )
    assert attached.status_code in (200, 201, 204), attached.text
    assumed = iam_api.post(
        f"{berth.url}/api/v1/sts/assume-role",
        json={"roleArn": f"arn:berth:iam::{account_id}:role/pusher", "roleSessionName": "ci"},
        timeout=30,
    )
    assert assumed.status_code == 200, assumed.text
    credentials = assumed.json()["credentials"]
    ecr = aws_account.client(
        "ecr",
        access_key_id=credentials["accessKeyId"],
        secret_access_key=credentials["secretAccessKey"],
        session_token=credentials["sessionToken"],
    )
    aws_account.client("ecr").create_repository(repositoryName="by-role")
    data = ecr.get_authorization_token()["authorizationData"][0]
    image = I.build_oci_image(tmp_path / "image", tag="v1")
    skopeo_login_and_push(berth, tmp_path / "skopeo", login_password(data), image, f"{account_id}/by-role:v1")
    assert ecr.list_images(repositoryName="by-role")["imageIds"] == [
        {"imageDigest": image.manifest_digest, "imageTag": "v1"}
    ]


def test_ecr_public_images_layers_and_tokens(berth, aws_account, ecr_public, tmp_path):
    account_id = aws_account.account_id
    berth.create_repository(account_id, "pub/app", public=True)
    berth.create_repository(account_id, "private/app")

    data = ecr_public.get_authorization_token()["authorizationData"]
    assert set(data) == {"authorizationToken", "expiresAt"}
    login_password(data)
    # `aws ecr-public get-login-password`, as AWS's documentation pipes it to `docker login`.
    password = aws_cli(aws_account, "ecr-public", "get-login-password")
    pushed = [I.build_oci_image(tmp_path / f"image-{tag}", tag=tag) for tag in ("a", "b")]
    for image in pushed:
        skopeo_login_and_push(berth, tmp_path / "skopeo", password, image, f"{account_id}/pub/app:{image.tag}")

    details, _ = paged(ecr_public.describe_images, "imageDetails", repositoryName="pub/app", maxResults=1)
    assert [(d["imageDigest"], d["imageTags"]) for d in details] == [(i.manifest_digest, [i.tag]) for i in pushed]
    tags, pages = paged(ecr_public.describe_image_tags, "imageTagDetails", repositoryName="pub/app", maxResults=1)
    assert pages == 2
    assert [(t["imageTag"], t["imageDetail"]["imageDigest"]) for t in tags] == [
        (i.tag, i.manifest_digest) for i in pushed
    ]

    # A layer through the upload operations, then a PutImage referencing it.
    image = I.build_oci_image(tmp_path / "uploaded", tag="c")
    for digest in image.blob_digests:
        blob = I.layout_blob(image.path, digest).read_bytes()
        upload_layer(ecr_public, "pub/app", blob, digest, part_size=1500)
    checked = ecr_public.batch_check_layer_availability(repositoryName="pub/app", layerDigests=image.blob_digests)
    assert {layer["layerAvailability"] for layer in checked["layers"]} == {"AVAILABLE"}
    assert len(checked["layers"]) == len(image.blob_digests) and checked["failures"] == []
    put = ecr_public.put_image(repositoryName="pub/app", imageManifest=image.manifest.decode(), imageTag="c")
    assert put["image"]["imageId"] == {"imageDigest": image.manifest_digest, "imageTag": "c"}

    deleted = ecr_public.batch_delete_image(repositoryName="pub/app", imageIds=[{"imageTag": "a"}, {"imageTag": "zz"}])
    assert deleted["imageIds"] == [{"imageDigest": pushed[0].manifest_digest, "imageTag": "a"}]
    assert [f["failureCode"] for f in deleted["failures"]] == ["ImageNotFound"]

    # ECR Public reaches public repositories only.
    with pytest.raises(ecr_public.exceptions.RepositoryNotFoundException):
        ecr_public.describe_images(repositoryName="private/app")
    with pytest.raises(ecr_public.exceptions.RepositoryNotFoundException):
        ecr_public.initiate_layer_upload(repositoryName="private/app")

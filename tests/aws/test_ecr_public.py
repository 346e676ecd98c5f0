"""Amazon ECR Public's repository, catalog, registry, policy and tag operations
through boto3's `ecr-public` client against a live server."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
import requests
from PIL import Image


def png(width: int = 64, height: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def push_image(server_url: str, account, path: str) -> None:
    """One small image into ``path`` (`<alias>/<name>`) over /v2/, as its account's root."""
    token = requests.get(
        f"{server_url}/token",
        params={"service": "berth-registry", "scope": f"repository:{path}:pull,push"},
        auth=(account.username, account.password),
        timeout=30,
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}

    def blob(data: bytes) -> dict:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        response = requests.post(
            f"{server_url}/v2/{path}/blobs/uploads/", params={"digest": digest}, data=data, headers=headers, timeout=30
        )
        assert response.status_code == 201, response.text
        return {"digest": digest, "size": len(data)}

    config = blob(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode())
    layer = blob(b"a layer of ecr public")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
    }
    response = requests.put(
        f"{server_url}/v2/{path}/manifests/v1",
        data=json.dumps(manifest),
        headers={**headers, "Content-Type": manifest["mediaType"]},
        timeout=30,
    )
    assert response.status_code == 201, response.text


def test_public_repositories_catalog_policy_and_tags(ecr_public, ecr, aws_account, berth):
    account_id = aws_account.account_id
    logo = png()

    # CreateRepository: a public repository with its catalog data and tags.
    created = ecr_public.create_repository(
        repositoryName="team/web",
        catalogData={
            "description": "a web server",
            "aboutText": "# About\nserves pages",
            "usageText": "docker pull it",
            "architectures": ["x86-64", "ARM 64"],
            "operatingSystems": ["Linux"],
            "logoImageBlob": logo,
        },
        tags=[{"Key": "team", "Value": "web"}],
    )
    repository = created["repository"]
    arn = f"arn:berth:ecr-public::{account_id}:repository/team/web"
    assert repository["repositoryArn"] == arn
    assert repository["registryId"] == account_id
    assert repository["repositoryUri"].endswith(f"/{aws_account.account.alias}/team/web")
    assert created["catalogData"]["description"] == "a web server"
    assert created["catalogData"]["architectures"] == ["x86-64", "ARM 64"]
    logo_url = created["catalogData"]["logoUrl"]
    fetched = requests.get(logo_url, timeout=30)
    assert fetched.status_code == 200 and fetched.content == logo
    with pytest.raises(ecr_public.exceptions.RepositoryAlreadyExistsException):
        ecr_public.create_repository(repositoryName="team/web")

    # DescribeRepositories pages through the public repositories only: one made by
    # Amazon ECR's API is private, and ECR Public does not find it.
    for name in ("team/a", "team/b", "team/c"):
        ecr_public.create_repository(repositoryName=name)
    ecr.create_repository(repositoryName="team/private")
    first = ecr_public.describe_repositories(maxResults=2)
    assert [r["repositoryName"] for r in first["repositories"]] == ["team/a", "team/b"]
    rest = ecr_public.describe_repositories(maxResults=2, nextToken=first["nextToken"])
    assert [r["repositoryName"] for r in rest["repositories"]] == ["team/c", "team/web"]
    assert "nextToken" not in rest
    paged = [
        r["repositoryName"]
        for page in ecr_public.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 3})
        for r in page["repositories"]
    ]
    assert paged == ["team/a", "team/b", "team/c", "team/web"]
    with pytest.raises(ecr_public.exceptions.RepositoryNotFoundException, match="private repository"):
        ecr_public.describe_repositories(repositoryNames=["team/private"])
    with pytest.raises(ecr_public.exceptions.RepositoryNotFoundException):
        ecr_public.get_repository_catalog_data(repositoryName="team/private")
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == [
        "team/a",
        "team/b",
        "team/c",
        "team/private",
        "team/web",
    ]

    # Catalog data: the members given change, an empty logo removes the logo.
    put = ecr_public.put_repository_catalog_data(
        repositoryName="team/a", catalogData={"description": "first", "logoImageBlob": logo}
    )["catalogData"]
    assert put["description"] == "first" and put["logoUrl"].endswith("/team/a/-/logo")
    put = ecr_public.put_repository_catalog_data(
        repositoryName="team/a", catalogData={"usageText": "pull it", "logoImageBlob": b""}
    )["catalogData"]
    assert put == {"description": "first", "usageText": "pull it"}
    assert ecr_public.get_repository_catalog_data(repositoryName="team/a")["catalogData"] == put
    assert ecr_public.get_repository_catalog_data(repositoryName="team/b")["catalogData"] == {}
    with pytest.raises(ecr_public.exceptions.InvalidParameterException, match="(?i)png or jpeg"):
        ecr_public.put_repository_catalog_data(
            repositoryName="team/a", catalogData={"logoImageBlob": b"GIF89a not a logo"}
        )
    with pytest.raises(ecr_public.exceptions.InvalidParameterException, match="60"):
        ecr_public.put_repository_catalog_data(repositoryName="team/a", catalogData={"logoImageBlob": png(20, 20)})

    # The registry: its catalog data and DescribeRegistries with its aliases.
    assert ecr_public.put_registry_catalog_data(displayName="Team Web")["registryCatalogData"] == {
        "displayName": "Team Web"
    }
    assert ecr_public.get_registry_catalog_data()["registryCatalogData"] == {"displayName": "Team Web"}
    with pytest.raises(ecr_public.exceptions.InvalidParameterException):
        ecr_public.put_registry_catalog_data(displayName="x" * 101)
    registries = ecr_public.describe_registries()["registries"]
    assert len(registries) == 1
    registry = registries[0]
    assert registry["registryId"] == account_id
    assert registry["registryArn"] == f"arn:berth:ecr-public::{account_id}:registry/{account_id}"
    assert registry["registryUri"].endswith(f"/{aws_account.account.alias}")
    assert registry["verified"] is False
    assert registry["aliases"] == [
        {
            "name": aws_account.account.alias,
            "status": "ACTIVE",
            "primaryRegistryAlias": True,
            "defaultRegistryAlias": True,
        }
    ]

    # The repository policy round trip.
    with pytest.raises(ecr_public.exceptions.RepositoryPolicyNotFoundException):
        ecr_public.get_repository_policy(repositoryName="team/a")
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "describe",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:berth:iam::{account_id}:root"},
                    "Action": ["ecr:DescribeRepositories"],
                }
            ],
        }
    )
    set_policy = ecr_public.set_repository_policy(repositoryName="team/a", policyText=document)
    assert set_policy["repositoryName"] == "team/a" and set_policy["registryId"] == account_id
    assert json.loads(ecr_public.get_repository_policy(repositoryName="team/a")["policyText"]) == json.loads(document)
    with pytest.raises(ecr_public.exceptions.InvalidParameterException):
        ecr_public.set_repository_policy(repositoryName="team/a", policyText='{"Statement": "nope"}')
    deleted = ecr_public.delete_repository_policy(repositoryName="team/a")
    assert json.loads(deleted["policyText"]) == json.loads(document)
    with pytest.raises(ecr_public.exceptions.RepositoryPolicyNotFoundException):
        ecr_public.delete_repository_policy(repositoryName="team/a")

    # Tags, by the repository's ECR Public ARN.
    assert ecr_public.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "team", "Value": "web"}]
    # Amazon's partition reads as Berth's, as in policies.
    aws_arn = arn.replace("arn:berth:", "arn:aws:")
    assert ecr_public.list_tags_for_resource(resourceArn=aws_arn)["tags"] == [{"Key": "team", "Value": "web"}]
    ecr_public.tag_resource(resourceArn=arn, tags=[{"Key": "tier", "Value": "front"}, {"Key": "team", "Value": "www"}])
    assert ecr_public.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"Key": "team", "Value": "www"},
        {"Key": "tier", "Value": "front"},
    ]
    ecr_public.untag_resource(resourceArn=arn, tagKeys=["team", "absent"])
    assert ecr_public.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "tier", "Value": "front"}]
    with pytest.raises(ecr_public.exceptions.InvalidTagParameterException):
        ecr_public.tag_resource(resourceArn=arn, tags=[{"Key": "bad*key", "Value": "v"}])
    with pytest.raises(
        ecr_public.exceptions.InvalidParameterException, match="is no repository ARN: arn:aws:ecr-public::"
    ):
        ecr_public.list_tags_for_resource(resourceArn=f"arn:berth:ecr:local:{account_id}:repository/team/web")
    with pytest.raises(ecr_public.exceptions.RepositoryNotFoundException):
        ecr_public.list_tags_for_resource(resourceArn=f"arn:berth:ecr-public::{account_id}:repository/team/private")

    # DeleteRepository: refused while it holds an image, unless forced.
    push_image(berth.url, aws_account.account, f"{aws_account.account.alias}/team/b")
    with pytest.raises(ecr_public.exceptions.RepositoryNotEmptyException):
        ecr_public.delete_repository(repositoryName="team/b")
    assert ecr_public.delete_repository(repositoryName="team/b", force=True)["repository"]["repositoryArn"] == (
        f"arn:berth:ecr-public::{account_id}:repository/team/b"
    )
    assert ecr_public.delete_repository(repositoryName="team/c")["repository"]["repositoryName"] == "team/c"
    with pytest.raises(ecr_public.exceptions.RepositoryNotFoundException):
        ecr_public.delete_repository(repositoryName="team/private")
    assert [r["repositoryName"] for r in ecr_public.describe_repositories()["repositories"]] == ["team/a", "team/web"]

    # What Berth does not have answers UnsupportedOperationException, saying why.
    with pytest.raises(ecr_public.exceptions.ClientError) as refused:
        ecr_public.describe_premium_repositories()
    assert refused.value.response["Error"]["Code"] == "UnsupportedOperationException"
    assert "premium repositories" in refused.value.response["Error"]["Message"]

    # The trail names each change as the management API's would.
    lookup = requests.get(
        f"{berth.url}/api/v1/audit/events",
        params={"read_only": "false", "max_results": 100},
        auth=(aws_account.access_key_id, aws_account.secret_access_key),
        timeout=30,
    )
    assert lookup.status_code == 200, lookup.text
    writes = {(event["eventSource"], event["eventName"]) for event in lookup.json()["events"]}
    assert {
        ("ecr.berth", "CreateRepository"),
        ("ecr-public.berth", "PutRepositoryCatalogData"),
        ("ecr-public.berth", "PutRegistryCatalogData"),
        ("ecr.berth", "SetRepositoryPolicy"),
        ("ecr.berth", "TagResource"),
        ("ecr.berth", "UntagResource"),
        ("ecr.berth", "DeleteRepository"),
    } <= writes, writes

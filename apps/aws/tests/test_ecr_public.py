"""ECR Public's operations in process: boto3's `ecr-public` client (real botocore,
real Signature Version 4) whose requests Django's test client serves. The refusals,
the authorization and the table of operations; tests/aws/test_ecr_public.py runs
the round trips against a live server."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from PIL import Image

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.aws import operations, protocol
from apps.iam import services as iam_services
from apps.repositories.models import Repository, Visibility

from .conftest import boto3_client

# Helper 2's ECR Public operations (apps/aws/ecr_public/images.py).
IMAGE_OPERATIONS = {
    "DescribeImages",
    "DescribeImageTags",
    "PutImage",
    "BatchDeleteImage",
    "InitiateLayerUpload",
    "UploadLayerPart",
    "CompleteLayerUpload",
    "BatchCheckLayerAvailability",
    "GetAuthorizationToken",
}
HANDLED = {
    "CreateRepository",
    "DescribeRepositories",
    "DeleteRepository",
    "GetRepositoryPolicy",
    "SetRepositoryPolicy",
    "DeleteRepositoryPolicy",
    "GetRepositoryCatalogData",
    "PutRepositoryCatalogData",
    "GetRegistryCatalogData",
    "PutRegistryCatalogData",
    "DescribeRegistries",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
}

SETUP = Actor.system("tests")


def client_for(user, service: str = protocol.ECR_PUBLIC):
    return boto3_client(user, service)


def root_user(tenant):
    return get_user_model().objects.get(username=tenant.username)


def iam_user(tenant, name: str, statements: list[dict]):
    user = iam_services.create_user(account=tenant.account, username=name, actor=SETUP)
    managed = iam_services.create_policy(
        account=tenant.account,
        name=f"{name}-policy",
        document=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        actor=SETUP,
    )
    iam_services.attach_policy(account=tenant.account, managed_policy=managed, user=user, actor=SETUP)
    return user


def code(raised) -> str:
    return raised.value.response["Error"]["Code"]


def png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_every_operation_is_handled_or_declared_unsupported():
    names = set(protocol.operation_names(protocol.ECR_PUBLIC))
    handled = {name for service, name in operations.OPERATIONS if service == protocol.ECR_PUBLIC}
    declared = {name for service, name in operations.UNSUPPORTED if service == protocol.ECR_PUBLIC}
    assert HANDLED <= handled
    assert not handled & declared
    assert names - IMAGE_OPERATIONS == handled - IMAGE_OPERATIONS | declared
    assert declared >= {"CreatePremiumRepository", "DescribeEntitledRepositories", "ListPublisherReports"}
    assert all(operations.UNSUPPORTED[(protocol.ECR_PUBLIC, name)] for name in declared)


@pytest.mark.django_db
def test_refusals(tenant, other_tenant):
    client = client_for(root_user(tenant))
    refused = pytest.raises

    with refused(client.exceptions.ClientError) as raised:
        client.create_repository(repositoryName="app", catalogData={"categories": ["Web"]})
    assert code(raised) == "InvalidParameterException" and "categories" in str(raised.value)
    # A logo refused after the repository was made: the whole request is undone.
    with refused(client.exceptions.InvalidParameterException):
        client.create_repository(repositoryName="app", catalogData={"logoImageBlob": png(30)})
    assert not Repository.objects.filter(account=tenant.account, name="app").exists()

    created = client.create_repository(repositoryName="app")
    assert created["catalogData"] == {}
    assert Repository.objects.get(account=tenant.account, name="app").visibility == Visibility.PUBLIC
    with refused(client.exceptions.InvalidParameterException):
        client.put_repository_catalog_data(repositoryName="app", catalogData={"description": "x" * 1025})
    with refused(client.exceptions.RepositoryNotFoundException):
        client.put_repository_catalog_data(repositoryName="missing", catalogData={"description": "x"})
    with refused(client.exceptions.InvalidParameterException):
        client.describe_repositories(nextToken="not-a-token")
    with refused(client.exceptions.InvalidParameterException):
        client.describe_repositories(repositoryNames=["app"], maxResults=5)
    with refused(client.exceptions.RepositoryPolicyNotFoundException):
        client.delete_repository_policy(repositoryName="app")
    with refused(client.exceptions.InvalidParameterException, match="display name"):
        client.put_registry_catalog_data(description="a publisher")
    with refused(client.exceptions.InvalidParameterException):
        client.describe_registries(nextToken="more")
    with refused(client.exceptions.InvalidParameterException, match="registryId"):
        client.describe_repositories(registryId=other_tenant.account.pk)

    arn = f"arn:berth:ecr-public::{tenant.account.pk}:repository/app"
    client.tag_resource(resourceArn=arn, tags=[{"Key": f"k{i}", "Value": "v"} for i in range(150)])
    with refused(client.exceptions.TooManyTagsException):  # 150 + 60: more than a repository may have
        client.tag_resource(resourceArn=arn, tags=[{"Key": f"m{i}", "Value": "v"} for i in range(60)])
    with refused(client.exceptions.RepositoryNotFoundException, match=other_tenant.account.pk):
        client.list_tags_for_resource(resourceArn=f"arn:berth:ecr-public::{other_tenant.account.pk}:repository/app")
    with refused(client.exceptions.InvalidParameterException):
        client.list_tags_for_resource(resourceArn="not-an-arn")

    # Without displayName the display name stays, and the put is in the trail.
    client.put_registry_catalog_data(displayName="Alice")
    assert client.put_registry_catalog_data()["registryCatalogData"] == {"displayName": "Alice"}
    assert Event.objects.filter(event_name="PutRegistryCatalogData", event_source="ecr-public").count() == 2


@pytest.mark.django_db
def test_the_management_apis_actions_decide(tenant):
    """The repository operations take the management API's `ecr:` actions, catalog
    data and the registry ECR Public's own: one policy decides whichever API is used."""
    account = tenant.account.pk
    root = client_for(root_user(tenant))
    root.create_repository(repositoryName="team/a")
    root.create_repository(repositoryName="team/b")

    ecr_only = client_for(
        iam_user(
            tenant,
            "builder",
            [
                {"Effect": "Allow", "Action": ["ecr:*"], "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": ["ecr-public:GetRepositoryCatalogData"],
                    "Resource": f"arn:berth:ecr-public::{account}:repository/team/a",
                },
            ],
        )
    )
    created = ecr_only.create_repository(repositoryName="team/c", tags=[{"Key": "k", "Value": "v"}])
    assert created["repository"]["repositoryArn"] == f"arn:berth:ecr-public::{account}:repository/team/c"
    ecr_only.tag_resource(resourceArn=created["repository"]["repositoryArn"], tags=[{"Key": "x", "Value": "y"}])
    # Catalog data is ecr-public:PutRepositoryCatalogData: refused before anything is made.
    with pytest.raises(ecr_only.exceptions.ClientError) as raised:
        ecr_only.create_repository(repositoryName="team/d", catalogData={"description": "d"})
    assert code(raised) == "AccessDeniedException" and "ecr-public:PutRepositoryCatalogData" in str(raised.value)
    assert not Repository.objects.filter(account=tenant.account, name="team/d").exists()
    assert ecr_only.get_repository_catalog_data(repositoryName="team/a")["catalogData"] == {}
    with pytest.raises(ecr_only.exceptions.ClientError) as raised:
        ecr_only.get_repository_catalog_data(repositoryName="team/b")
    assert code(raised) == "AccessDeniedException"
    with pytest.raises(ecr_only.exceptions.ClientError) as raised:
        ecr_only.describe_registries()
    assert code(raised) == "AccessDeniedException"

    public_only = client_for(
        iam_user(
            tenant,
            "publisher",
            [
                {"Effect": "Allow", "Action": ["ecr-public:*"], "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": ["ecr:DescribeRepositories"],
                    "Resource": f"arn:berth:ecr:local:{account}:repository/team/a",
                },
            ],
        )
    )
    assert public_only.describe_registries()["registries"][0]["registryId"] == account
    # DescribeRepositories lists what ecr:DescribeRepositories allows, as the management API does.
    listed = public_only.describe_repositories()["repositories"]
    assert [repository["repositoryName"] for repository in listed] == ["team/a"]
    with pytest.raises(public_only.exceptions.ClientError) as raised:
        public_only.create_repository(repositoryName="team/e")
    assert code(raised) == "AccessDeniedException" and "ecr:CreateRepository" in str(raised.value)
    with pytest.raises(public_only.exceptions.ClientError) as raised:
        public_only.delete_repository(repositoryName="team/a")
    assert code(raised) == "AccessDeniedException"
    assert f"ecr:DeleteRepository on arn:berth:ecr:local:{account}:repository/team/a" in str(raised.value)

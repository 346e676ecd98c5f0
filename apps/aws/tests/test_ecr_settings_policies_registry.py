"""In-process tests of ECR's settings, tag, policy, registry and replication
operations (apps.aws.ecr.settings, .policies, .registry): requests signed with
botocore's SigV4 and sent through Django's test client, answered by the same
services as the management API."""

from __future__ import annotations

import json

import pytest

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.iam import selectors as iam_selectors
from apps.replication import services as replication_services
from apps.replication.tests.conftest import push_image
from apps.repositories import selectors as repository_selectors
from apps.repositories import services as repository_services
from apps.repositories.models import RESOURCE_TAGS_PER_REPOSITORY, Repository

from .conftest import AwsClient, new_access_key, user_of

TARGET = "AmazonEC2ContainerRegistry_V20150921"
REGION = "local"


def _ecr_for(tenant) -> AwsClient:
    return AwsClient(*new_access_key(user_of(tenant)))


@pytest.fixture
def ecr(tenant) -> AwsClient:
    return _ecr_for(tenant)


@pytest.fixture
def repository(tenant) -> Repository:
    return repository_services.create_repository(account=tenant.account, name="team/app", actor=Actor.system("test"))


def _arn(account_id: str, name: str) -> str:
    return f"arn:aws:ecr:{REGION}:{account_id}:repository/{name}"


def _last_event(name: str) -> Event:
    return Event.objects.filter(event_name=name).order_by("-sequence").first()


def test_put_image_tag_mutability_and_scanning(ecr, tenant, repository):
    answer = ecr.ok(
        "PutImageTagMutability",
        repositoryName="team/app",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest*"}],
    )
    assert answer == {
        "registryId": tenant.account.pk,
        "repositoryName": "team/app",
        "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "latest*"}],
    }
    repository.refresh_from_db()
    assert repository.image_tag_mutability == "IMMUTABLE_WITH_EXCLUSION"
    assert repository.image_tag_mutability_exclusion_filters == ["latest*"]
    event = _last_event("PutImageTagMutability")
    assert event.event_source == "ecr" and event.repository == "team/app"

    ecr.fails(
        "PutImageTagMutability",
        "InvalidParameterException",
        repositoryName="team/app",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "no spaces"}],
    )
    ecr.fails(
        "PutImageTagMutability",
        "InvalidParameterException",
        repositoryName="team/app",
        imageTagMutability="MUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "REGEX", "filter": "x"}],
    )
    ecr.fails(
        "PutImageTagMutability", "RepositoryNotFoundException", repositoryName="nope", imageTagMutability="MUTABLE"
    )

    answer = ecr.ok(
        "PutImageScanningConfiguration", repositoryName="team/app", imageScanningConfiguration={"scanOnPush": True}
    )
    assert answer["imageScanningConfiguration"] == {"scanOnPush": True}
    repository.refresh_from_db()
    assert repository.scan_on_push is True
    assert _last_event("PutImageScanningConfiguration").request_parameters["imageScanningConfiguration"] == {
        "scanOnPush": True
    }


def test_tags_by_resource_arn(ecr, tenant, other_tenant, repository):
    arn = _arn(tenant.account.pk, "team/app")
    assert (
        ecr.ok("TagResource", resourceArn=arn, tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "x"}]) == {}
    )
    ecr.ok("TagResource", resourceArn=arn, tags=[{"Key": "env", "Value": "prod"}])
    assert ecr.ok("ListTagsForResource", resourceArn=arn)["tags"] == [
        {"Key": "env", "Value": "prod"},
        {"Key": "team", "Value": "a"},
    ]
    assert ecr.ok("UntagResource", resourceArn=arn, tagKeys=["team", "absent"]) == {}
    assert repository_selectors.resource_tags_of(repository) == {"env": "prod"}
    assert _last_event("UntagResource").request_parameters["tagKeys"] == ["team", "absent"]

    for bad in (
        "not-an-arn",
        f"arn:aws:s3:::{tenant.account.pk}",
        f"arn:aws:ecr:elsewhere:{tenant.account.pk}:repository/x",
    ):
        ecr.fails("ListTagsForResource", "InvalidParameterException", resourceArn=bad)
    ecr.fails("ListTagsForResource", "RepositoryNotFoundException", resourceArn=_arn(tenant.account.pk, "missing"))
    repository_services.create_repository(account=other_tenant.account, name="team/app", actor=Actor.system("test"))
    ecr.fails("TagResource", "RepositoryNotFoundException", resourceArn=_arn(other_tenant.account.pk, "team/app"),
              tags=[{"Key": "k", "Value": "v"}])  # fmt: skip
    ecr.fails("TagResource", "InvalidTagParameterException", resourceArn=arn, tags=[{"Key": "bad!key", "Value": "v"}])
    too_many = [{"Key": f"k{n}", "Value": "v"} for n in range(RESOURCE_TAGS_PER_REPOSITORY)]
    ecr.fails("TagResource", "TooManyTagsException", resourceArn=arn, tags=too_many)
    assert repository_selectors.resource_tags_of(repository) == {"env": "prod"}


def test_repository_policy_operations(ecr, tenant, repository):
    ecr.fails("GetRepositoryPolicy", "RepositoryPolicyNotFoundException", repositoryName="team/app")
    ecr.fails("DeleteRepositoryPolicy", "RepositoryPolicyNotFoundException", repositoryName="team/app")
    ecr.fails("SetRepositoryPolicy", "InvalidParameterException", repositoryName="team/app", policyText="{not json")
    ecr.fails("SetRepositoryPolicy", "RepositoryNotFoundException", repositoryName="nope", policyText="{}")
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "pull",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{tenant.account.pk}:root"},
                    "Action": ["ecr:BatchGetImage"],
                }
            ],
        }
    )
    answer = ecr.ok("SetRepositoryPolicy", repositoryName="team/app", policyText=text, force=True)
    assert answer == {"registryId": tenant.account.pk, "repositoryName": "team/app", "policyText": text}
    assert _last_event("SetRepositoryPolicy").request_parameters["force"] is True
    assert ecr.ok("GetRepositoryPolicy", repositoryName="team/app")["policyText"] == text
    assert ecr.ok("DeleteRepositoryPolicy", repositoryName="team/app")["policyText"] == text
    assert iam_selectors.repository_policy_of(repository) is None


def test_registry_policy_operations(ecr, tenant, other_tenant):
    ecr.fails("GetRegistryPolicy", "RegistryPolicyNotFoundException")
    ecr.fails("DeleteRegistryPolicy", "RegistryPolicyNotFoundException")
    ecr.fails("PutRegistryPolicy", "InvalidParameterException", policyText='{"Version": "2012-10-17"}')
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "replicate",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{other_tenant.account.pk}:root"},
                    "Action": ["ecr:ReplicateImage", "ecr:CreateRepository"],
                    "Resource": f"arn:aws:ecr:{REGION}:{tenant.account.pk}:repository/*",
                }
            ],
        }
    )
    assert ecr.ok("PutRegistryPolicy", policyText=text) == {"registryId": tenant.account.pk, "policyText": text}
    assert ecr.ok("GetRegistryPolicy") == {"registryId": tenant.account.pk, "policyText": text}
    assert ecr.ok("DeleteRegistryPolicy")["policyText"] == text
    ecr.fails("GetRegistryPolicy", "RegistryPolicyNotFoundException")
    ecr.fails(
        "GetRepositoryPolicy", "InvalidParameterException", registryId=other_tenant.account.pk, repositoryName="x"
    )


def test_replication_configuration(ecr, tenant, other_tenant, repository, committed):
    assert ecr.ok("DescribeRegistry") == {"registryId": tenant.account.pk, "replicationConfiguration": {"rules": []}}
    configuration = {
        "rules": [
            {
                "destinations": [{"region": REGION, "registryId": other_tenant.account.pk}],
                "repositoryFilters": [{"filter": "team", "filterType": "PREFIX_MATCH"}],
                "deleteReplication": {"enabled": True},
            },
            {"destinations": [{"region": REGION, "registryId": other_tenant.account.pk}]},
        ]
    }
    assert ecr.ok("PutReplicationConfiguration", replicationConfiguration=configuration) == {
        "replicationConfiguration": configuration
    }
    assert ecr.ok("DescribeRegistry")["replicationConfiguration"] == configuration
    stored = replication_services.selectors.stored_rules(tenant.account.pk)
    assert [rule.get("replicateDeletions", False) for rule in stored] == [True, False]

    ecr.fails(  # this registry itself
        "PutReplicationConfiguration",
        "InvalidParameterException",
        replicationConfiguration={"rules": [{"destinations": [{"region": REGION, "registryId": tenant.account.pk}]}]},
    )
    ecr.fails(  # another region needs an endpoint, which ECR's shape lacks
        "PutReplicationConfiguration",
        "InvalidParameterException",
        replicationConfiguration={"rules": [{"destinations": [{"region": "us-east-1", "registryId": "123456789012"}]}]},
    )

    with committed():
        digest = push_image(repository, tag="v1")
    answer = ecr.ok("DescribeImageReplicationStatus", repositoryName="team/app", imageId={"imageTag": "v1"})
    assert answer["repositoryName"] == "team/app"
    assert answer["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    # The destination's account has no registry policy letting this one replicate into it.
    assert answer["replicationStatuses"] == [
        {"region": REGION, "registryId": other_tenant.account.pk, "status": "FAILED", "failureCode": "AccessDenied"}
    ]
    ecr.fails(
        "DescribeImageReplicationStatus",
        "ImageNotFoundException",
        repositoryName="team/app",
        imageId={"imageTag": "absent"},
    )
    ecr.fails(
        "DescribeImageReplicationStatus",
        "InvalidParameterException",
        repositoryName="team/app",
        imageId={"imageTag": "v1", "imageDigest": "sha256:" + "0" * 64},
    )

    # A destination in another deployment has no ECR form: a put through this API would drop it.
    replication_services.put_replication_configuration(
        account=tenant.account,
        document={
            "rules": [
                {"destinations": [{"region": "far", "registryId": "123456789012", "endpoint": "https://far.example"}]}
            ]
        },
        actor=Actor.system("test"),
    )
    assert ecr.ok("DescribeRegistry")["replicationConfiguration"] == {
        "rules": [{"destinations": [{"region": "far", "registryId": "123456789012"}]}]
    }
    message = ecr.fails(
        "PutReplicationConfiguration", "InvalidParameterException", replicationConfiguration={"rules": []}
    )
    assert "https://far.example" in message


def test_backfills_are_unsupported_with_the_reason(ecr):
    for operation, params in (
        ("StartReplicationBackfill", {"destination": {"region": REGION, "registryId": "123456789012"}}),
        ("ListReplicationBackfills", {}),
        ("DescribeReplicationBackfillResults", {"replicationBackfillId": "x"}),
        ("StopReplicationBackfill", {"replicationBackfillId": "x"}),
    ):
        message = ecr.fails(operation, "UnsupportedOperationException", **params)
        assert "one destination" in message and "replication-backfills" in message

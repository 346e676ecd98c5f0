"""ECR's repository, settings, tag, policy, registry and replication operations
with real boto3 against a live `berth serve`: paging DescribeRepositories, tag
mutability, resource tags, repository policies (one that denies an IAM user, whose
own boto3 client is then refused), the registry policy, the replication
configuration, and one audit trail whichever API a call came through."""

from __future__ import annotations

import json

import pytest
import requests

from tests.aws.conftest import REGION, AwsAccount

PASSWORD = "a-long-enough-Passw0rd!"


class Rest:
    """Berth's management API (/api/v1), signed with an access key."""

    def __init__(self, aws_account: AwsAccount) -> None:
        self.url = aws_account.server.url
        self.session = requests.Session()
        self.session.auth = (aws_account.access_key_id, aws_account.secret_access_key)

    def call(self, method: str, path: str, expect: int | tuple[int, ...] = (200, 201, 204), **kwargs):
        response = self.session.request(method, f"{self.url}/api/v1/{path}", timeout=30, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in expected, f"{method} {path}: {response.status_code} {response.text[:2000]}"
        return response.json() if response.content else None


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_describe_repositories_pages_by_next_token_and_paginator(ecr):
    names = [f"paged/repo-{n}" for n in range(7)]
    for name in reversed(names):
        ecr.create_repository(repositoryName=name)

    seen, token, pages = [], None, 0
    while True:
        page = ecr.describe_repositories(maxResults=3, **({"nextToken": token} if token else {}))
        assert len(page["repositories"]) <= 3
        seen += [repository["repositoryName"] for repository in page["repositories"]]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert pages == 3 and seen == names  # by name, each once

    paginator = ecr.get_paginator("describe_repositories")
    paged = list(paginator.paginate(PaginationConfig={"PageSize": 3}))
    assert [len(page["repositories"]) for page in paged] == [3, 3, 1]
    assert [r["repositoryName"] for page in paged for r in page["repositories"]] == names
    limited = paginator.paginate(PaginationConfig={"PageSize": 2, "MaxItems": 5}).build_full_result()
    assert [r["repositoryName"] for r in limited["repositories"]] == names[:5]
    assert "NextToken" in limited  # boto3's token to resume from

    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.describe_repositories(maxResults=3, nextToken="not-a-token")


def test_tag_mutability_scanning_and_resource_tags(ecr, aws_account):
    ecr.create_repository(repositoryName="settings/app")
    answer = ecr.put_image_tag_mutability(
        repositoryName="settings/app",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "dev-*"}],
    )
    assert answer["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert answer["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "dev-*"}]
    [described] = ecr.describe_repositories(repositoryNames=["settings/app"])["repositories"]
    assert described["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert described["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "dev-*"}]
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.put_image_tag_mutability(
            repositoryName="settings/app",
            imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
            imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "no spaces allowed"}],
        )
    ecr.put_image_tag_mutability(repositoryName="settings/app", imageTagMutability="MUTABLE")
    [described] = ecr.describe_repositories(repositoryNames=["settings/app"])["repositories"]
    assert described["imageTagMutability"] == "MUTABLE" and not described.get("imageTagMutabilityExclusionFilters")

    scanning = ecr.put_image_scanning_configuration(
        repositoryName="settings/app", imageScanningConfiguration={"scanOnPush": True}
    )
    assert scanning["imageScanningConfiguration"] == {"scanOnPush": True}
    [described] = ecr.describe_repositories(repositoryNames=["settings/app"])["repositories"]
    assert described["imageScanningConfiguration"] == {"scanOnPush": True}

    arn = described["repositoryArn"]
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "dev"}])
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "prod"}])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"Key": "env", "Value": "prod"},
        {"Key": "team", "Value": "web"},
    ]
    ecr.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "env", "Value": "prod"}]
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.list_tags_for_resource(resourceArn="arn:aws:s3:::a-bucket")
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.list_tags_for_resource(resourceArn=f"arn:aws:ecr:{REGION}:{aws_account.account_id}:repository/absent")
    with pytest.raises(ecr.exceptions.InvalidTagParameterException):
        ecr.tag_resource(resourceArn=arn, tags=[{"Key": "bad!", "Value": "x"}])


def test_repository_policy_denies_an_iam_user(ecr, aws_account):
    rest = Rest(aws_account)
    account_id = aws_account.account_id
    for name in ("guarded/app", "open/app"):
        ecr.create_repository(repositoryName=name)
    rest.call("POST", "iam/users", json={"userName": "ci", "password": PASSWORD})
    rest.call("POST", "iam/users/ci/policies", json={"policyArn": "BerthRegistryFullAccess"})
    key = rest.call("POST", "iam/users/ci/access-keys")
    user_ecr = aws_account.client("ecr", access_key_id=key["accessKeyId"], secret_access_key=key["secretAccessKey"])
    user_ecr.put_image_tag_mutability(repositoryName="guarded/app", imageTagMutability="IMMUTABLE")

    with pytest.raises(ecr.exceptions.RepositoryPolicyNotFoundException):
        ecr.get_repository_policy(repositoryName="guarded/app")
    text = _policy(
        {
            "Sid": "NoSettingsForCi",
            "Effect": "Deny",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:user/ci"},
            "Action": ["ecr:PutImageTagMutability", "ecr:TagResource"],
        }
    )
    stored = ecr.set_repository_policy(repositoryName="guarded/app", policyText=text, force=True)
    assert (stored["registryId"], stored["repositoryName"], json.loads(stored["policyText"])) == (
        account_id,
        "guarded/app",
        json.loads(text),
    )
    assert json.loads(ecr.get_repository_policy(repositoryName="guarded/app")["policyText"]) == json.loads(text)
    # The same policy through the management API.
    assert json.loads(rest.call("GET", "repositories/guarded/app/-/policy")["policyText"]) == json.loads(text)

    with pytest.raises(user_ecr.exceptions.ClientError) as refused:
        user_ecr.put_image_tag_mutability(repositoryName="guarded/app", imageTagMutability="MUTABLE")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "ecr:PutImageTagMutability" in refused.value.response["Error"]["Message"]
    guarded_arn = f"arn:aws:ecr:{REGION}:{account_id}:repository/guarded/app"
    with pytest.raises(user_ecr.exceptions.ClientError) as refused:
        user_ecr.tag_resource(resourceArn=guarded_arn, tags=[{"Key": "k", "Value": "v"}])
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    user_ecr.put_image_tag_mutability(repositoryName="open/app", imageTagMutability="IMMUTABLE")  # not that one
    ecr.put_image_tag_mutability(repositoryName="guarded/app", imageTagMutability="MUTABLE")  # the root is not named

    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.set_repository_policy(repositoryName="guarded/app", policyText='{"Statement": "nope"}')
    deleted = ecr.delete_repository_policy(repositoryName="guarded/app")
    assert json.loads(deleted["policyText"]) == json.loads(text)
    with pytest.raises(ecr.exceptions.RepositoryPolicyNotFoundException):
        ecr.delete_repository_policy(repositoryName="guarded/app")
    user_ecr.put_image_tag_mutability(repositoryName="guarded/app", imageTagMutability="IMMUTABLE")


def test_registry_policy_and_replication_configuration(berth, ecr, aws_account):
    other = berth.create_account("replica")
    with pytest.raises(ecr.exceptions.RegistryPolicyNotFoundException):
        ecr.get_registry_policy()
    text = _policy(
        {
            "Sid": "ReplicateFromPartner",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{other.account_id}:root"},
            "Action": ["ecr:ReplicateImage", "ecr:CreateRepository"],
            "Resource": f"arn:aws:ecr:{REGION}:{aws_account.account_id}:repository/*",
        }
    )
    put = ecr.put_registry_policy(policyText=text)
    assert put["registryId"] == aws_account.account_id
    assert json.loads(ecr.get_registry_policy()["policyText"]) == json.loads(text)
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.put_registry_policy(policyText=_policy({"Effect": "Allow", "Principal": "*", "Action": "ecr:PutImage"}))
    assert json.loads(ecr.delete_registry_policy()["policyText"]) == json.loads(text)
    with pytest.raises(ecr.exceptions.RegistryPolicyNotFoundException):
        ecr.delete_registry_policy()

    registry = ecr.describe_registry()
    assert registry["registryId"] == aws_account.account_id
    assert registry["replicationConfiguration"] == {"rules": []}
    configuration = {
        "rules": [
            {
                "destinations": [{"region": REGION, "registryId": other.account_id}],
                "repositoryFilters": [{"filter": "prod", "filterType": "PREFIX_MATCH"}],
                "deleteReplication": {"enabled": True},
            },
            {"destinations": [{"region": REGION, "registryId": other.account_id}]},
        ]
    }
    assert ecr.put_replication_configuration(replicationConfiguration=configuration)["replicationConfiguration"] == (
        configuration
    )
    assert ecr.describe_registry()["replicationConfiguration"] == configuration
    # The management API shows the same rules, deleteReplication as Berth's replicateDeletions.
    rules = Rest(aws_account).call("GET", "registry")["replicationConfiguration"]["rules"]
    assert [rule.get("replicateDeletions", False) for rule in rules] == [True, False]
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.put_replication_configuration(
            replicationConfiguration={
                "rules": [{"destinations": [{"region": REGION, "registryId": aws_account.account_id}]}]
            }
        )
    ecr.put_replication_configuration(replicationConfiguration={"rules": []})
    assert ecr.describe_registry()["replicationConfiguration"] == {"rules": []}

    with pytest.raises(ecr.exceptions.ClientError) as refused:
        ecr.list_replication_backfills()
    assert refused.value.response["Error"]["Code"] == "UnsupportedOperationException"
    assert "replication-backfills" in refused.value.response["Error"]["Message"]


def test_audit_trail_is_the_same_through_either_api(ecr, aws_account):
    rest = Rest(aws_account)
    for name in ("audit/rest", "audit/aws"):
        ecr.create_repository(repositoryName=name)
    rest.call(
        "PUT",
        "repositories/audit/rest/-/image-tag-mutability",
        json={"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION", "imageTagMutabilityExclusionFilters": ["dev-*"]},
    )
    ecr.put_image_tag_mutability(
        repositoryName="audit/aws",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "dev-*"}],
    )
    policy = _policy(
        {
            "Sid": "Pull",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{aws_account.account_id}:root"},
            "Action": "ecr:BatchGetImage",
        }
    )
    rest.call("PUT", "repositories/audit/rest/-/policy", json={"policyText": policy})
    ecr.set_repository_policy(repositoryName="audit/aws", policyText=policy)

    for operation in ("PutImageTagMutability", "SetRepositoryPolicy"):
        [through_rest] = rest.call("GET", "audit/events", params={"event_name": operation, "repository": "audit/rest"})[
            "events"
        ]
        [through_aws] = rest.call("GET", "audit/events", params={"event_name": operation, "repository": "audit/aws"})[
            "events"
        ]
        for event in (through_rest, through_aws):
            assert event["eventName"] == operation and event["eventSource"] == "ecr.berth", event
            assert event["readOnly"] is False and "errorCode" not in event
        assert through_rest["requestParameters"].keys() == through_aws["requestParameters"].keys()
        assert {"registryId", "repositoryName"} < through_aws["requestParameters"].keys()
        assert through_rest["userIdentity"] == through_aws["userIdentity"]
        assert through_aws["requestParameters"]["repositoryName"] == "audit/aws"

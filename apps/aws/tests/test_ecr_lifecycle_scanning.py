"""ECR's lifecycle, scanning, pull-through cache and creation template operations
in process: a real boto3 client, whose signed requests botocore hands to Django's
test client instead of the network (its `before-send` event), so that the
errors and shapes are botocore's own reading of the answers."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from apps.audit import recorder
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.aws import operations, protocol
from apps.iam import services as iam_services
from apps.scanning import vulndb
from apps.scanning.tests import test_scans as scan_tests

from .conftest import boto3_client, user_of

POLICY = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep two",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 2},
                "action": {"type": "expire"},
            }
        ]
    }
)


@pytest.fixture
def ecr(tenant):
    return boto3_client(user_of(tenant))


def test_every_operation_of_this_area_is_handled_or_declared_unsupported():
    handled = {
        "GetLifecyclePolicy",
        "PutLifecyclePolicy",
        "DeleteLifecyclePolicy",
        "StartLifecyclePolicyPreview",
        "GetLifecyclePolicyPreview",
        "StartImageScan",
        "DescribeImageScanFindings",
        "GetRegistryScanningConfiguration",
        "PutRegistryScanningConfiguration",
        "BatchGetRepositoryScanningConfiguration",
        "CreatePullThroughCacheRule",
        "DescribePullThroughCacheRules",
        "DeletePullThroughCacheRule",
        "ValidatePullThroughCacheRule",
        "CreateRepositoryCreationTemplate",
        "DescribeRepositoryCreationTemplates",
        "DeleteRepositoryCreationTemplate",
        "UpdateRepositoryCreationTemplate",
    }
    assert handled <= {name for service, name in operations.OPERATIONS if service == protocol.ECR}
    for name in ("UpdatePullThroughCacheRule", "GetAccountSetting", "PutAccountSetting"):
        assert "Berth" in operations.UNSUPPORTED[(protocol.ECR, name)]


def test_lifecycle_policy_and_preview(ecr, tenant, registry_client):
    ecr.create_repository(repositoryName="life/app")
    name = f"{tenant.id}/life/app"
    pusher = registry_client(tenant)
    digests = [pusher.push_image(name, f"v{n}", seed=bytes([n]))[0] for n in range(3)]

    with pytest.raises(ecr.exceptions.LifecyclePolicyNotFoundException):
        ecr.get_lifecycle_policy(repositoryName="life/app")
    with pytest.raises(ecr.exceptions.LifecyclePolicyNotFoundException):
        ecr.delete_lifecycle_policy(repositoryName="life/app")
    with pytest.raises(ecr.exceptions.LifecyclePolicyPreviewNotFoundException):
        ecr.get_lifecycle_policy_preview(repositoryName="life/app")
    with pytest.raises(ecr.exceptions.LifecyclePolicyNotFoundException):
        ecr.start_lifecycle_policy_preview(repositoryName="life/app")
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.get_lifecycle_policy(repositoryName="life/none")
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.put_lifecycle_policy(repositoryName="life/app", lifecyclePolicyText='{"rules": []}' + " " * 100)

    put = ecr.put_lifecycle_policy(repositoryName="life/app", lifecyclePolicyText=POLICY)
    assert put["lifecyclePolicyText"] == POLICY and put["registryId"] == tenant.id
    got = ecr.get_lifecycle_policy(repositoryName="life/app")
    assert got["lifecyclePolicyText"] == POLICY and "lastEvaluatedAt" not in got

    started = ecr.start_lifecycle_policy_preview(repositoryName="life/app")
    assert started["status"] == "COMPLETE" and started["lifecyclePolicyText"] == POLICY
    preview = ecr.get_lifecycle_policy_preview(repositoryName="life/app")
    assert preview["summary"] == {"expiringImageTotalCount": 1}
    [result] = preview["previewResults"]
    assert result["imageDigest"] == digests[0] and result["imageTags"] == ["v0"]
    assert result["action"] == {"type": "EXPIRE"} and result["appliedRulePriority"] == 1
    assert result["imagePushedAt"].year >= 2026

    # a text given to the preview, paged one at a time; by image id; untagged only
    keep_one = POLICY.replace('"countNumber": 2', '"countNumber": 1')
    ecr.start_lifecycle_policy_preview(repositoryName="life/app", lifecyclePolicyText=keep_one)
    first = ecr.get_lifecycle_policy_preview(repositoryName="life/app", maxResults=1)
    assert len(first["previewResults"]) == 1 and first["nextToken"]
    second = ecr.get_lifecycle_policy_preview(repositoryName="life/app", maxResults=1, nextToken=first["nextToken"])
    assert "nextToken" not in second
    assert {first["previewResults"][0]["imageDigest"], second["previewResults"][0]["imageDigest"]} == set(digests[:2])
    by_id = ecr.get_lifecycle_policy_preview(repositoryName="life/app", imageIds=[{"imageTag": "v1"}])
    assert [r["imageDigest"] for r in by_id["previewResults"]] == [digests[1]]
    untagged = ecr.get_lifecycle_policy_preview(repositoryName="life/app", filter={"tagStatus": "UNTAGGED"})
    assert untagged["previewResults"] == [] and untagged["summary"]["expiringImageTotalCount"] == 2
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.get_lifecycle_policy_preview(repositoryName="life/app", nextToken="not-a-token")

    deleted = ecr.delete_lifecycle_policy(repositoryName="life/app")
    assert deleted["lifecyclePolicyText"] == POLICY
    with pytest.raises(ecr.exceptions.LifecyclePolicyNotFoundException):
        ecr.get_lifecycle_policy(repositoryName="life/app")
    names = set(Event.objects.filter(recipient_account_id=tenant.id).values_list("event_name", flat=True))
    assert {"PutLifecyclePolicy", "StartLifecyclePolicyPreview", "DeleteLifecyclePolicy"} <= names


def test_scanning(ecr, tenant, registry_client):
    ecr.create_repository(repositoryName="scan/app")
    digest, _ = registry_client(tenant).push_image(f"{tenant.id}/scan/app", "v1")

    with pytest.raises(ecr.exceptions.ScanNotFoundException):
        ecr.describe_image_scan_findings(repositoryName="scan/app", imageId={"imageTag": "v1"})
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.start_image_scan(repositoryName="scan/app", imageId={"imageTag": "nope"})
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.start_image_scan(repositoryName="scan/app", imageId={"imageDigest": "sha256:short"})

    started = ecr.start_image_scan(repositoryName="scan/app", imageId={"imageTag": "v1"})
    assert started["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    assert started["imageScanStatus"]["status"] in ("PENDING", "IN_PROGRESS")
    with pytest.raises(ecr.exceptions.LimitExceededException):
        ecr.start_image_scan(repositoryName="scan/app", imageId={"imageDigest": digest})
    described = ecr.describe_image_scan_findings(repositoryName="scan/app", imageId={"imageDigest": digest})
    assert described["imageScanStatus"]["status"] in ("PENDING", "IN_PROGRESS", "COMPLETE", "FAILED")

    # the registry's configuration, and what it means for each repository
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"] == {"scanType": "BASIC", "rules": []}
    rules = [
        {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "scan/*", "filterType": "WILDCARD"}]}
    ]
    put = ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=rules)
    assert put["registryScanningConfiguration"] == {"scanType": "ENHANCED", "rules": rules}
    got = ecr.get_registry_scanning_configuration()
    assert got["registryId"] == tenant.id and got["scanningConfiguration"]["rules"] == rules
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.put_registry_scanning_configuration(
            scanType="BASIC", rules=[{**rules[0], "scanFrequency": "CONTINUOUS_SCAN"}]
        )
    ecr.create_repository(repositoryName="other")
    batch = ecr.batch_get_repository_scanning_configuration(repositoryNames=["scan/app", "other", "missing"])
    by_name = {c["repositoryName"]: c for c in batch["scanningConfigurations"]}
    assert by_name["scan/app"]["scanFrequency"] == "CONTINUOUS_SCAN" and by_name["scan/app"]["scanOnPush"]
    assert by_name["scan/app"]["appliedScanFilters"] == rules[0]["repositoryFilters"]
    assert by_name["other"]["scanFrequency"] == "MANUAL" and not by_name["other"]["appliedScanFilters"]
    assert batch["failures"][0]["repositoryName"] == "missing"
    assert batch["failures"][0]["failureCode"] == "REPOSITORY_NOT_FOUND"


def test_pull_through_cache_rules(ecr, tenant):
    created = ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="hub", upstreamRegistryUrl="registry-1.docker.io", upstreamRepositoryPrefix="library"
    )
    assert created["upstreamRegistryUrl"] == "https://registry-1.docker.io"
    assert created["upstreamRegistry"] == "docker-hub" and created["upstreamRepositoryPrefix"] == "library"
    with pytest.raises(ecr.exceptions.PullThroughCacheRuleAlreadyExistsException):
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="hub", upstreamRegistryUrl="quay.io")
    with pytest.raises(ecr.exceptions.InvalidParameterException, match="Secrets Manager"):
        ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="ghcr",
            upstreamRegistryUrl="ghcr.io",
            credentialArn="arn:aws:secretsmanager:local:123456789012:secret:ecr-pullthroughcache/gh",
        )
    with pytest.raises(ecr.exceptions.InvalidParameterException, match="does not match"):
        ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="ghcr", upstreamRegistryUrl="ghcr.io", upstreamRegistry="quay"
        )
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="local", upstreamRegistryUrl="http://127.0.0.1:9")
    described = ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    assert [rule["ecrRepositoryPrefix"] for rule in described] == ["hub", "local"]
    assert "upstreamRegistry" not in described[1] and described[1]["upstreamRepositoryPrefix"] == "ROOT"
    page = ecr.describe_pull_through_cache_rules(maxResults=1)
    assert len(page["pullThroughCacheRules"]) == 1
    assert ecr.describe_pull_through_cache_rules(nextToken=page["nextToken"])["pullThroughCacheRules"][0][
        "ecrRepositoryPrefix"
    ] == ("local")
    with pytest.raises(ecr.exceptions.PullThroughCacheRuleNotFoundException):
        ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=["nope"])
    with pytest.raises(ecr.exceptions.PullThroughCacheRuleNotFoundException):
        ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="nope")
    with pytest.raises(ecr.exceptions.ClientError, match="UnsupportedOperationException.*Secrets Manager"):
        ecr.update_pull_through_cache_rule(
            ecrRepositoryPrefix="hub",
            credentialArn="arn:aws:secretsmanager:local:123456789012:secret:ecr-pullthroughcache/hub",
        )
    deleted = ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="local")
    assert deleted["upstreamRegistryUrl"] == "http://127.0.0.1:9"
    with pytest.raises(ecr.exceptions.PullThroughCacheRuleNotFoundException):
        ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="local")


def test_repository_creation_templates(ecr, tenant):
    created = ecr.create_repository_creation_template(
        prefix="prod",
        description="production",
        appliedFor=["REPLICATION"],
        imageTagMutability="IMMUTABLE",
        resourceTags=[{"Key": "team", "Value": "a"}],
        lifecyclePolicy=POLICY,
    )["repositoryCreationTemplate"]
    assert created["prefix"] == "prod" and created["resourceTags"] == [{"Key": "team", "Value": "a"}]
    assert created["lifecyclePolicy"] == POLICY and "repositoryPolicy" not in created
    assert created["encryptionConfiguration"] == {"encryptionType": "AES256"}
    with pytest.raises(ecr.exceptions.TemplateAlreadyExistsException):
        ecr.create_repository_creation_template(prefix="prod", appliedFor=["REPLICATION"])
    with pytest.raises(ecr.exceptions.InvalidParameterException, match="KMS"):
        ecr.create_repository_creation_template(
            prefix="kms", appliedFor=["REPLICATION"], encryptionConfiguration={"encryptionType": "KMS"}
        )
    with pytest.raises(ecr.exceptions.InvalidParameterException, match="CREATE_ON_PUSH"):
        ecr.create_repository_creation_template(prefix="push", appliedFor=["CREATE_ON_PUSH"])
    with pytest.raises(ecr.exceptions.InvalidParameterException, match="lifecyclePolicy"):
        ecr.create_repository_creation_template(prefix="bad", appliedFor=["REPLICATION"], lifecyclePolicy="{}")
    ecr.create_repository_creation_template(prefix="ROOT", appliedFor=["PULL_THROUGH_CACHE"])

    listed = ecr.describe_repository_creation_templates()
    assert listed["registryId"] == tenant.id
    assert [t["prefix"] for t in listed["repositoryCreationTemplates"]] == ["ROOT", "prod"]
    first = ecr.describe_repository_creation_templates(maxResults=1)
    rest = ecr.describe_repository_creation_templates(nextToken=first["nextToken"])
    assert [t["prefix"] for t in rest["repositoryCreationTemplates"]] == ["prod"]
    assert ecr.describe_repository_creation_templates(prefixes=["prod/"])["repositoryCreationTemplates"][0][
        "description"
    ] == ("production")

    updated = ecr.update_repository_creation_template(
        prefix="prod",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest*"}],
        lifecyclePolicy="",
        appliedFor=["REPLICATION", "PULL_THROUGH_CACHE"],
    )["repositoryCreationTemplate"]
    assert updated["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "latest*"}]
    assert "lifecyclePolicy" not in updated and updated["description"] == "production"
    assert updated["appliedFor"] == ["REPLICATION", "PULL_THROUGH_CACHE"]
    with pytest.raises(ecr.exceptions.TemplateNotFoundException):
        ecr.update_repository_creation_template(prefix="nope", description="x")

    deleted = ecr.delete_repository_creation_template(prefix="prod")["repositoryCreationTemplate"]
    assert deleted["prefix"] == "prod"
    with pytest.raises(ecr.exceptions.TemplateNotFoundException):
        ecr.delete_repository_creation_template(prefix="prod")


def test_account_settings_are_unsupported_with_the_reason(ecr):
    with pytest.raises(ecr.exceptions.ClientError, match="UnsupportedOperationException.*BASIC_SCAN_TYPE_VERSION"):
        ecr.get_account_setting(name="BASIC_SCAN_TYPE_VERSION")


def test_scan_findings_basic_then_enhanced(ecr, tenant, registry_client, committed):
    with committed():
        vulndb.import_paths([str(scan_tests.FIXTURES)])
    ecr.create_repository(repositoryName="team/app", imageScanningConfiguration={"scanOnPush": True})
    with committed():
        digest = scan_tests.push(
            registry_client(tenant), f"{tenant.id}/team/app", "v1", scan_tests.debian_python_layers()
        )

    first = ecr.describe_image_scan_findings(repositoryName="team/app", imageId={"imageTag": "v1"}, maxResults=2)
    assert first["imageScanStatus"]["status"] == "COMPLETE" and first["imageId"]["imageDigest"] == digest
    findings = first["imageScanFindings"]
    assert len(findings["findings"]) == 2 and first["nextToken"] and "enhancedFindings" not in findings
    rest = ecr.describe_image_scan_findings(
        repositoryName="team/app", imageId={"imageTag": "v1"}, nextToken=first["nextToken"], maxResults=1000
    )
    every = findings["findings"] + rest["imageScanFindings"]["findings"]
    assert {f["name"] for f in every} == scan_tests.advisory_ids(digest)
    assert sum(findings["findingSeverityCounts"].values()) == len(every)
    urllib3 = next(f for f in every if f["name"] == "PYSEC-2021-108")
    attributes = {a["key"]: a["value"] for a in urllib3["attributes"]}
    assert attributes["package_name"] == "urllib3" and attributes["package_version"] == "1.26.4"
    assert findings["imageScanCompletedAt"].year >= 2026
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.describe_image_scan_findings(repositoryName="team/app", imageId={"imageTag": "v1"}, nextToken="bogus")

    ecr.put_registry_scanning_configuration(
        scanType="ENHANCED",
        rules=[{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}],
    )
    enhanced = ecr.describe_image_scan_findings(
        repositoryName="team/app", imageId={"imageDigest": digest}, maxResults=1000
    )
    assert "findings" not in enhanced["imageScanFindings"]
    by_id = {
        f["packageVulnerabilityDetails"]["vulnerabilityId"]: f
        for f in enhanced["imageScanFindings"]["enhancedFindings"]
    }
    assert set(by_id) == {f["name"] for f in every}
    urllib3 = by_id["PYSEC-2021-108"]
    [package] = urllib3["packageVulnerabilityDetails"]["vulnerablePackages"]
    assert package["name"] == "urllib3" and package["version"] == "1.26.4" and package["fixedInVersion"]
    assert urllib3["fixAvailable"] == "YES" and urllib3["type"] == "PACKAGE_VULNERABILITY"
    assert urllib3["awsAccountId"] == tenant.id
    assert urllib3["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"] == digest


def test_iam_decides_as_in_the_management_api(ecr, tenant, registry_client):
    """A user allowed to read lifecycle policies, templates and rules is refused
    every write of this area, and the trail records each refusal."""
    actor = Actor.system("test")
    ecr.create_repository(repositoryName="guarded")
    registry_client(tenant).push_image(f"{tenant.id}/guarded", "v1")
    ecr.put_lifecycle_policy(repositoryName="guarded", lifecyclePolicyText=POLICY)
    iam_services.create_user(account=tenant.account, username="reader", actor=actor)
    reader = get_user_model().objects.get(membership__user_name="reader")
    readable = [
        "ecr:GetLifecyclePolicy",
        "ecr:DescribeRepositoryCreationTemplates",
        "ecr:DescribePullThroughCacheRules",
    ]
    policy = iam_services.create_policy(
        account=tenant.account,
        name="Reader",
        document=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": readable, "Resource": "*"}]}
        ),
        actor=actor,
    )
    iam_services.attach_policy(account=tenant.account, managed_policy=policy, user=reader, actor=actor)
    as_reader = boto3_client(reader)

    assert as_reader.get_lifecycle_policy(repositoryName="guarded")["lifecyclePolicyText"] == POLICY
    assert as_reader.describe_repository_creation_templates()["repositoryCreationTemplates"] == []
    assert as_reader.describe_pull_through_cache_rules()["pullThroughCacheRules"] == []
    refused = {
        "PutLifecyclePolicy": lambda: as_reader.put_lifecycle_policy(
            repositoryName="guarded", lifecyclePolicyText=POLICY
        ),
        "StartLifecyclePolicyPreview": lambda: as_reader.start_lifecycle_policy_preview(repositoryName="guarded"),
        "StartImageScan": lambda: as_reader.start_image_scan(repositoryName="guarded", imageId={"imageTag": "v1"}),
        "PutRegistryScanningConfiguration": lambda: as_reader.put_registry_scanning_configuration(scanType="BASIC"),
        "CreatePullThroughCacheRule": lambda: as_reader.create_pull_through_cache_rule(
            ecrRepositoryPrefix="hub", upstreamRegistryUrl="registry-1.docker.io"
        ),
        "CreateRepositoryCreationTemplate": lambda: as_reader.create_repository_creation_template(
            prefix="prod", appliedFor=["REPLICATION"]
        ),
    }
    for name, call in refused.items():
        with pytest.raises(as_reader.exceptions.ClientError, match="AccessDenied") as caught:
            call()
        assert caught.value.response["Error"]["Code"] == "AccessDeniedException", name
    recorder.flush()
    recorded = Event.objects.filter(recipient_account_id=tenant.id, actor_arn__endswith="user/reader")
    refusals = {event.event_name for event in recorded if event.error_code}
    assert refusals == set(refused), [(event.event_name, event.error_code) for event in recorded]
    assert {event.error_code for event in recorded if event.error_code} == {"AccessDenied"}

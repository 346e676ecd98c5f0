"""ECR's lifecycle policies, scanning, pull-through cache rules and repository
creation templates through boto3 against a live `berth serve`: images pushed with
skopeo, previews and scans run by the server's own Celery worker, waited for with
boto3's own waiters (bounded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e import images as I
from tests.e2e.test_clients import copy

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parents[2] / "apps" / "scanning" / "tests" / "data"
ALPINE_OS_RELEASE = b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.11.6\nPRETTY_NAME="Alpine Linux v3.11"\n'
OLD_APK = b"P:musl\nV:1.1.23-r1\nA:x86_64\nL:MIT\no:musl\n\nP:zlib\nV:1.2.11-r3\nA:x86_64\nL:Zlib\no:zlib\n\n"
# A waiter polls once a second, for at most a minute.
WAIT = {"Delay": 1, "MaxAttempts": 60}
KEEP_ONE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep the newest image",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
                "action": {"type": "expire"},
            }
        ]
    }
)


def push(berth, aws_account, work: Path, repository: str, tag: str, layers: list[dict[str, bytes]]) -> str:
    image = I.build_image_from_layers(work / f"{repository.replace('/', '-')}-{tag}", tag, layers)
    copy(
        work,
        f"oci:{image.path}:{tag}",
        f"docker://{berth.host}/{aws_account.account_id}/{repository}:{tag}",
        dest_creds=aws_account.account.creds,
    )
    return image.manifest_digest


def test_lifecycle_preview_cache_rules_and_templates(berth, aws_account, ecr, tmp_path):
    ecr.create_repository(repositoryName="life/app")
    digests = [
        push(berth, aws_account, tmp_path, "life/app", f"v{n}", [{f"file-{n}": f"content {n}".encode()}])
        for n in range(3)
    ]
    with pytest.raises(ecr.exceptions.LifecyclePolicyNotFoundException):
        ecr.get_lifecycle_policy(repositoryName="life/app")
    ecr.put_lifecycle_policy(repositoryName="life/app", lifecyclePolicyText=KEEP_ONE)
    assert ecr.get_lifecycle_policy(repositoryName="life/app")["lifecyclePolicyText"] == KEEP_ONE

    started = ecr.start_lifecycle_policy_preview(repositoryName="life/app")
    assert started["status"] in ("IN_PROGRESS", "COMPLETE")
    ecr.get_waiter("lifecycle_policy_preview_complete").wait(repositoryName="life/app", WaiterConfig=WAIT)
    preview = ecr.get_lifecycle_policy_preview(repositoryName="life/app")
    assert preview["status"] == "COMPLETE"
    assert preview["summary"]["expiringImageTotalCount"] == 2
    expiring = {result["imageDigest"]: result for result in preview["previewResults"]}
    assert set(expiring) == set(digests[:2]), "the two older images expire, the newest stays"
    assert {tuple(result["imageTags"]) for result in expiring.values()} == {("v0",), ("v1",)}
    assert all(
        result["action"]["type"] == "EXPIRE" and result["appliedRulePriority"] == 1 for result in expiring.values()
    )
    # nothing was deleted: a preview only says what would expire
    listed = ecr.describe_repositories(repositoryNames=["life/app"])["repositories"]
    assert listed[0]["repositoryName"] == "life/app"
    deleted = ecr.delete_lifecycle_policy(repositoryName="life/app")
    assert deleted["lifecyclePolicyText"] == KEEP_ONE

    # a pull-through cache rule whose upstream is not running: creating and
    # describing it needs no upstream, validating it says why it cannot be reached
    created = ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="mirror", upstreamRegistryUrl="http://127.0.0.1:9", upstreamRepositoryPrefix="library"
    )
    assert created["registryId"] == aws_account.account_id and created["upstreamRepositoryPrefix"] == "library"
    [rule] = ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=["mirror"])["pullThroughCacheRules"]
    assert rule["upstreamRegistryUrl"] == "http://127.0.0.1:9" and rule["createdAt"] <= rule["updatedAt"]
    validation = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="mirror")
    assert validation["isValid"] is False and validation["failure"]
    with pytest.raises(ecr.exceptions.InvalidParameterException, match="Secrets Manager"):
        ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="hub",
            upstreamRegistryUrl="registry-1.docker.io",
            credentialArn=f"arn:aws:secretsmanager:local:{aws_account.account_id}:secret:ecr-pullthroughcache/hub",
        )
    ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="mirror")
    with pytest.raises(ecr.exceptions.PullThroughCacheRuleNotFoundException):
        ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=["mirror"])

    # repository creation templates
    template = ecr.create_repository_creation_template(
        prefix="mirror", appliedFor=["PULL_THROUGH_CACHE"], imageTagMutability="IMMUTABLE", lifecyclePolicy=KEEP_ONE
    )["repositoryCreationTemplate"]
    assert template["lifecyclePolicy"] == KEEP_ONE and template["appliedFor"] == ["PULL_THROUGH_CACHE"]
    updated = ecr.update_repository_creation_template(prefix="mirror", description="cached images")
    assert updated["repositoryCreationTemplate"]["description"] == "cached images"
    [described] = ecr.describe_repository_creation_templates(prefixes=["mirror"])["repositoryCreationTemplates"]
    assert described["imageTagMutability"] == "IMMUTABLE" and described["description"] == "cached images"
    ecr.delete_repository_creation_template(prefix="mirror")
    with pytest.raises(ecr.exceptions.TemplateNotFoundException):
        ecr.delete_repository_creation_template(prefix="mirror")


def test_start_image_scan_and_its_findings(berth, aws_account, ecr, tmp_path):
    imported = berth.cli("vulndb", "import", "--no-progress", str(DATA / "alpine-secdb-v3.11-main.yaml"))
    assert "advisories added or changed" in imported.stdout, imported.stdout

    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"] == {"scanType": "BASIC", "rules": []}
    rules = [{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "pushed/*", "filterType": "WILDCARD"}]}]
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=rules)
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"] == {"scanType": "BASIC", "rules": rules}

    ecr.create_repository(repositoryName="manual/alpine")
    [configured] = ecr.batch_get_repository_scanning_configuration(repositoryNames=["manual/alpine"])[
        "scanningConfigurations"
    ]
    assert configured["scanFrequency"] == "MANUAL"
    digest = push(
        berth,
        aws_account,
        tmp_path,
        "manual/alpine",
        "3.11",
        [{"etc/os-release": ALPINE_OS_RELEASE, "lib/apk/db/installed": OLD_APK}],
    )
    with pytest.raises(ecr.exceptions.ScanNotFoundException):
        ecr.describe_image_scan_findings(repositoryName="manual/alpine", imageId={"imageTag": "3.11"})

    started = ecr.start_image_scan(repositoryName="manual/alpine", imageId={"imageTag": "3.11"})
    assert started["imageId"] == {"imageDigest": digest, "imageTag": "3.11"}
    assert started["imageScanStatus"]["status"] in ("PENDING", "IN_PROGRESS")
    ecr.get_waiter("image_scan_complete").wait(
        repositoryName="manual/alpine", imageId={"imageTag": "3.11"}, WaiterConfig=WAIT
    )
    answer = ecr.describe_image_scan_findings(repositoryName="manual/alpine", imageId={"imageDigest": digest})
    assert answer["imageScanStatus"]["status"] == "COMPLETE"
    findings = answer["imageScanFindings"]
    names = {finding["name"] for finding in findings["findings"]}
    assert "x_ALPINE-v3.11-musl-CVE-2019-14697" in names, names
    assert sum(findings["findingSeverityCounts"].values()) == len(findings["findings"])
    musl = next(f for f in findings["findings"] if f["name"] == "x_ALPINE-v3.11-musl-CVE-2019-14697")
    assert {"key": "package_name", "value": "musl"} in musl["attributes"]

    # paged by the server's token; a second scan within the day is refused
    first = ecr.describe_image_scan_findings(
        repositoryName="manual/alpine", imageId={"imageDigest": digest}, maxResults=1
    )
    assert len(first["imageScanFindings"]["findings"]) == 1
    if len(names) > 1:
        assert first["nextToken"]
    with pytest.raises(ecr.exceptions.LimitExceededException):
        ecr.start_image_scan(repositoryName="manual/alpine", imageId={"imageDigest": digest})
    with pytest.raises(ecr.exceptions.ClientError, match="UnsupportedOperationException"):
        ecr.put_account_setting(name="BASIC_SCAN_TYPE_VERSION", value="AWS_NATIVE")

"""ECR's scanning operations: StartImageScan, DescribeImageScanFindings,
GetRegistryScanningConfiguration, PutRegistryScanningConfiguration and
BatchGetRepositoryScanningConfiguration (as the management API's
apps/api/scanning/views.py).

A scan runs on the worker: StartImageScan answers IN_PROGRESS (or PENDING) and
DescribeImageScanFindings says COMPLETE once it is done. With BASIC scanning the
findings are ECR's `findings`; with ENHANCED scanning, as in ECR, they are
`enhancedFindings` (Amazon Inspector's shape), built from the same advisories."""

from __future__ import annotations

from django.conf import settings

from apps.repositories import selectors as repository_selectors
from apps.repositories.models import Repository
from apps.scanning import configuration, selectors, services
from apps.scanning.exceptions import ImageNotScannable, ScanLimitExceeded, ScanningConfigurationInvalid
from apps.scanning.models import ScanFrequency, ScanStatus, ScanType

from .. import operations, protocol
from ..errors import error
from ..operations import Call, domain_errors, operation
from . import shapes

domain_errors(
    {
        ScanLimitExceeded: "LimitExceededException",
        ImageNotScannable: "UnsupportedImageTypeException",
        ScanningConfigurationInvalid: "InvalidParameterException",
        selectors.FindingsTokenInvalid: "InvalidParameterException",
    }
)

operations.unsupported(
    protocol.ECR,
    ["GetAccountSetting", "PutAccountSetting"],
    "Berth has no account settings to read or set: its basic scanning is Berth's own scanner (one version, so no "
    "BASIC_SCAN_TYPE_VERSION to choose between AWS_NATIVE and CLAIR), and its registry policy has one scope (the "
    "replication and pull-through cache actions, no REGISTRY_POLICY_SCOPE)",
)

# DescribeImageScanFindings without maxResults: ECR's default page.
DEFAULT_PAGE = 100


def _image_id(manifest, image_id: dict) -> dict:
    return {"imageDigest": manifest.digest, "imageTag": image_id.get("imageTag")}


@operation(protocol.ECR, "StartImageScan")
def start_image_scan(call: Call) -> dict:
    repository = call.repository(call.params["repositoryName"], action="ecr:StartImageScan")
    call.authorize("ecr:StartImageScan", repository=repository)
    manifest = shapes.requested_image(repository, call.params["imageId"])
    scan = services.start_image_scan(repository=repository, manifest=manifest, actor=call.actor, context=call.context)
    return {
        "registryId": repository.account_id,
        "repositoryName": repository.name,
        "imageId": _image_id(manifest, call.params["imageId"]),
        "imageScanStatus": selectors.scan_status(scan),
    }


def _finding(finding) -> dict:
    """ECR's ImageScanFinding (BASIC scanning)."""
    return {
        "name": finding.advisory_id,
        "description": selectors.finding_description(finding),
        "uri": selectors.finding_uri(finding),
        "severity": finding.severity,
        "attributes": selectors.finding_attributes(finding),
    }


def _cvss_version(vector: str) -> str | None:
    head = vector.split("/", 1)[0]
    return head.removeprefix("CVSS:") if head.startswith("CVSS:") else None


def _enhanced_finding(call: Call, repository: Repository, scan, finding) -> dict:
    """ECR's EnhancedImageScanFinding (ENHANCED scanning): the same advisory and
    package, in Amazon Inspector's shape."""
    advisory, package, image = finding.advisory, finding.package, finding.scan.manifest
    region = settings.BERTH_REGION
    uri = selectors.finding_uri(finding)
    cvss = (
        {"baseScore": advisory.score, "scoringVector": advisory.vector, "version": _cvss_version(advisory.vector)}
        if advisory.score is not None
        else None
    )
    return {
        "awsAccountId": repository.account_id,
        "description": selectors.finding_description(finding),
        "findingArn": f"arn:aws:ecr:{region}:{repository.account_id}:finding/{finding.pk}",
        "firstObservedAt": finding.first_observed_at,
        "lastObservedAt": scan.completed_at,
        "updatedAt": finding.updated_at,
        "packageVulnerabilityDetails": {
            "cvss": [cvss] if cvss else [],
            "referenceUrls": [reference["url"] for reference in advisory.references or [] if reference.get("url")],
            "relatedVulnerabilities": list(advisory.aliases),
            "sourceUrl": uri,
            "vendorSeverity": advisory.severity,
            "vulnerabilityId": advisory.id,
            "vulnerablePackages": [
                {
                    "name": package.name,
                    "version": package.version,
                    "packageManager": package.ecosystem,
                    "filePath": package.path or None,
                    "sourceLayerHash": package.layer_digest or None,
                    "fixedInVersion": finding.fixed_version or None,
                }
            ],
        },
        "remediation": {
            "recommendation": {
                "text": f"Upgrade {package.name} to {finding.fixed_version}" if finding.fixed_version else "None",
                "url": uri,
            }
        },
        "resources": [
            {
                "type": "AWS_ECR_CONTAINER_IMAGE",
                "id": f"{call.repository_arn(repository.name)}/{image.digest}",
                "details": {
                    "awsEcrContainerImage": {
                        "imageHash": image.digest,
                        "registry": repository.account_id,
                        "repositoryName": repository.name,
                        "pushedAt": image.created_at,
                    }
                },
            }
        ],
        "score": advisory.score,
        "scoreDetails": (
            {"cvss": {"score": cvss["baseScore"], "scoringVector": cvss["scoringVector"], "version": cvss["version"]}}
            if cvss
            else None
        ),
        "severity": finding.severity,
        "status": "ACTIVE",
        "title": f"{advisory.id} - {package.name}",
        "type": "PACKAGE_VULNERABILITY",
        "fixAvailable": "YES" if finding.fixed_version else "NO",
    }


@operation(protocol.ECR, "DescribeImageScanFindings")
def describe_image_scan_findings(call: Call) -> dict:
    params = call.params
    repository = call.repository(params["repositoryName"], action="ecr:DescribeImageScanFindings")
    call.authorize("ecr:DescribeImageScanFindings", repository=repository)
    manifest = shapes.requested_image(repository, params["imageId"])
    scan = selectors.scan_of(manifest)
    if scan is None:
        raise error(
            "ScanNotFoundException",
            f"image {manifest.digest} has not been scanned: StartImageScan, or turn on scan on push",
        )
    findings, next_token = None, None
    if scan.status == ScanStatus.COMPLETE:
        page, next_token = selectors.findings_page(
            manifest, limit=params.get("maxResults", DEFAULT_PAGE), next_token=params.get("nextToken")
        )
        findings = selectors.findings_summary(scan)
        if configuration.of_account(call.account).scan_type == ScanType.ENHANCED:
            findings["enhancedFindings"] = [_enhanced_finding(call, repository, scan, f) for f in page]
        else:
            findings["findings"] = [_finding(f) for f in page]
    return {
        "registryId": repository.account_id,
        "repositoryName": repository.name,
        "imageId": _image_id(manifest, params["imageId"]),
        "imageScanStatus": selectors.scan_status(scan),
        "imageScanFindings": findings,
        "nextToken": next_token,
    }


def _configuration(config) -> dict:
    return {"scanType": config.scan_type, "rules": config.rules}


@operation(protocol.ECR, "GetRegistryScanningConfiguration")
def get_registry_scanning_configuration(call: Call) -> dict:
    call.authorize("ecr:GetRegistryScanningConfiguration")
    return {
        "registryId": call.registry_id,
        "scanningConfiguration": _configuration(configuration.of_account(call.account)),
    }


@operation(protocol.ECR, "PutRegistryScanningConfiguration")
def put_registry_scanning_configuration(call: Call) -> dict:
    call.authorize("ecr:PutRegistryScanningConfiguration")
    config = services.put_scanning_configuration(
        account_id=call.registry_id,
        # ECR's default scan type when none is set.
        scan_type=call.params.get("scanType", ScanType.BASIC),
        rules=[
            {
                "scanFrequency": rule["scanFrequency"],
                "repositoryFilters": [
                    {"filter": given["filter"], "filterType": given["filterType"]}
                    for given in rule["repositoryFilters"]
                ],
            }
            for rule in call.params.get("rules", [])
        ],
        actor=call.actor,
        context=call.context,
    )
    return {"registryScanningConfiguration": _configuration(config)}


@operation(protocol.ECR, "BatchGetRepositoryScanningConfiguration")
def batch_get_repository_scanning_configuration(call: Call) -> dict:
    config = configuration.of_account(call.account)
    found, failures = [], []
    for name in dict.fromkeys(call.params["repositoryNames"]):
        repository = repository_selectors.account_repository(call.account, name)
        if repository is None:
            failures.append(
                {
                    "repositoryName": name,
                    "failureCode": "REPOSITORY_NOT_FOUND",
                    "failureReason": f"The repository with name '{name}' does not exist in the registry with id "
                    f"'{call.registry_id}'",
                }
            )
            continue
        call.authorize("ecr:BatchGetRepositoryScanningConfiguration", repository=repository)
        found.append(repository)
    if not found:
        call.begin_event("ecr:BatchGetRepositoryScanningConfiguration")
    return {
        "scanningConfigurations": [_scanning(call, repository, config) for repository in found],
        "failures": failures,
    }


def _scanning(call: Call, repository: Repository, config) -> dict:
    """ECR's RepositoryScanningConfiguration: how the registry's rules (and the
    repository's own scanOnPush) have the repository scanned."""
    frequency = configuration.frequency(repository, config)
    return {
        "repositoryArn": call.repository_arn(repository.name),
        "repositoryName": repository.name,
        "scanOnPush": frequency != ScanFrequency.MANUAL,
        "scanFrequency": frequency,
        "appliedScanFilters": configuration.applied_filters(repository, config),
    }

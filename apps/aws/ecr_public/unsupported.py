"""The operations of ECR Public's model Berth answers with UnsupportedOperationException, and why."""

from __future__ import annotations

from .. import protocol
from ..operations import unsupported

unsupported(
    protocol.ECR_PUBLIC,
    [
        "CreatePremiumRepository",
        "DeletePremiumRepository",
        "DescribePremiumRepositories",
        "GetPremiumRepositoryCatalogData",
        "PutPremiumRepositoryCatalogData",
        "GetPremiumRepositoryPolicy",
        "SetPremiumRepositoryPolicy",
        "DeletePremiumRepositoryPolicy",
        "PutPremiumRepositoryProducts",
    ],
    "Berth has no premium repositories (sold through AWS Marketplace); its public repositories are ECR Public's "
    "free ones: use CreateRepository, DescribeRepositories and the other repository operations",
)
unsupported(
    protocol.ECR_PUBLIC,
    ["DescribeEntitledRepositories", "DescribeEntitledImages", "DescribeEntitledImageTags"],
    "entitlements are subscriptions to premium repositories through AWS Marketplace, which Berth does not have; "
    "anyone may pull a public repository without one",
)
unsupported(
    protocol.ECR_PUBLIC,
    ["ListPublisherReports", "GetDownloadUrlForPublisherReport"],
    "publisher reports are AWS Marketplace's usage reports for premium repositories, which Berth does not have",
)
unsupported(
    protocol.ECR_PUBLIC,
    ["AssociateRepositories", "DisassociateRepositories"],
    "Berth cannot associate a public repository with a premium one: it has no premium repositories",
)
unsupported(
    protocol.ECR_PUBLIC,
    ["DescribeImageScanFindings"],
    "ECR Public scans images of premium repositories only, which Berth does not have; Berth scans the images of "
    "every repository, public ones included: ask Amazon ECR's DescribeImageScanFindings (service ecr) or "
    "GET /api/v1/repositories/<name>/-/images/scan-findings",
)
unsupported(
    protocol.ECR_PUBLIC,
    ["SetImageStatus", "SetRepositoryState"],
    "image statuses (deprecation) and repository states (DRAFT, AVAILABLE, HIDDEN) are premium repositories', "
    "which Berth does not have; a public repository is in the gallery while it is public, and an image is "
    "deleted with BatchDeleteImage",
)

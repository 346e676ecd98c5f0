"""ECR operations Berth has no capability for (each module declares its own area's
others: back-fills in registry.py, account settings and cache-rule updates in
cache.py and scanning.py)."""

from .. import protocol
from ..operations import unsupported

unsupported(
    protocol.ECR,
    ["PutSigningConfiguration", "GetSigningConfiguration", "DeleteSigningConfiguration", "DescribeImageSigningStatus"],
    "Berth does not sign images itself (ECR's managed signing uses AWS Signer); push signatures made with cosign "
    "or notation as referrers, which DescribeImages, ListImageReferrers and /v2/ serve",
)
unsupported(
    protocol.ECR,
    ["RegisterPullTimeUpdateExclusion", "DeregisterPullTimeUpdateExclusion", "ListPullTimeUpdateExclusions"],
    "Berth records every pull's time (lastRecordedPullTime) for every principal and keeps no exclusion list",
)
unsupported(
    protocol.ECR,
    ["UpdateImageStorageClass"],
    "Berth has one storage class (no archive tier): every image is ACTIVE and pulls at once",
)

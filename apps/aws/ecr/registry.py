"""ECR's registry and replication operations: DescribeRegistry,
PutReplicationConfiguration and DescribeImageReplicationStatus, as the management
API's replication views do them.

ECR's replication configuration is Berth's without its extensions: a rule's
``deleteReplication.enabled`` is Berth's ``replicateDeletions``; a destination is
a region and a registry id only. A destination in another Berth deployment (one
with an ``endpoint`` and credentials) has no ECR form: DescribeRegistry shows it
by its region and registry id, and PutReplicationConfiguration, which replaces the
whole configuration, refuses to run over one (it would drop it): such a
configuration is changed through /api/v1/registry/replication-configuration.

ECR's replication back-fills are not Berth's: see UNSUPPORTED_BACKFILLS."""

from __future__ import annotations

from apps.replication import selectors, services
from apps.replication.config import ReplicationConfigurationInvalid

from .. import protocol
from ..errors import InvalidParameter
from ..operations import Call, domain_errors, operation, unsupported
from . import shapes

domain_errors({ReplicationConfigurationInvalid: "InvalidParameterException"})


def _ecr_configuration(described: dict) -> dict:
    """Berth's replicationConfiguration (as DescribeRegistry shows it) in ECR's shape."""
    return {
        "rules": [
            {
                "destinations": [{"region": d["region"], "registryId": d["registryId"]} for d in rule["destinations"]],
                # ECR's list takes 1 to 100 filters: a rule without is a rule for every repository.
                "repositoryFilters": [
                    {"filter": f["filter"], "filterType": f["filterType"]} for f in rule["repositoryFilters"]
                ]
                or None,
                **({"deleteReplication": {"enabled": True}} if rule.get("replicateDeletions") else {}),
            }
            for rule in described["rules"]
        ]
    }


def _berth_document(given: dict) -> dict:
    """ECR's replicationConfiguration as the document Berth's configuration parses."""
    return {
        "rules": [
            {
                "destinations": rule["destinations"],
                "repositoryFilters": rule.get("repositoryFilters", []),
                "replicateDeletions": rule.get("deleteReplication", {}).get("enabled", False),
            }
            for rule in given["rules"]
        ]
    }


@operation(protocol.ECR, "DescribeRegistry")
def describe_registry(call: Call) -> dict:
    call.authorize("ecr:DescribeRegistry")
    described = selectors.describe_registry(call.account)
    return {
        "registryId": described["registryId"],
        "replicationConfiguration": _ecr_configuration(described["replicationConfiguration"]),
    }


@operation(protocol.ECR, "PutReplicationConfiguration")
def put_replication_configuration(call: Call) -> dict:
    call.authorize("ecr:PutReplicationConfiguration", registryId=call.registry_id)
    elsewhere = sorted(
        {
            destination.endpoint
            for rule in selectors.configuration_of(call.registry_id).rules
            for destination in rule.destinations
            if destination.endpoint
        }
    )
    if elsewhere:
        raise InvalidParameter(
            "the registry replicates to other Berth deployments ("
            + ", ".join(elsewhere)
            + "), which ECR's replicationConfiguration cannot name, and a put replaces the whole configuration: "
            "change it through Berth's management API (PUT /api/v1/registry/replication-configuration)"
        )
    described = services.put_replication_configuration(
        account=call.account,
        document=_berth_document(call.params["replicationConfiguration"]),
        actor=call.actor,
        context=call.context,
    )
    return {"replicationConfiguration": _ecr_configuration(described)}


@operation(protocol.ECR, "DescribeImageReplicationStatus")
def describe_image_replication_status(call: Call) -> dict:
    params = call.params
    repository = call.repository(params["repositoryName"], action="ecr:DescribeImageReplicationStatus")
    call.authorize("ecr:DescribeImageReplicationStatus", repository=repository)
    wanted = params["imageId"]
    manifest = shapes.requested_image(repository, wanted)
    rows = selectors.image_statuses(repository, manifest.digest)
    return {
        "repositoryName": repository.name,
        "imageId": {"imageDigest": manifest.digest, "imageTag": wanted.get("imageTag")},
        "replicationStatuses": [
            {
                "region": row.destination_region,
                "registryId": row.destination_registry_id,
                "status": row.status,
                "failureCode": row.failure_code or None,
            }
            for row in rows
        ],
    }


# ECR's back-fills and Berth's (apps.replication, /api/v1/registry/replication-backfills)
# do not have the same shape.
UNSUPPORTED_BACKFILLS = (
    "ECR's replication back-fill copies a registry's images to one destination (a region and registry id) and is "
    "started, listed, described and stopped by that destination; Berth's back-fills copy to every destination of one "
    "replication rule, or of all of them, and may go to other Berth deployments (a destination's endpoint), so a "
    "Berth back-fill has no single destination to report and ECR's request cannot name a rule. Use Berth's "
    "management API: POST /api/v1/registry/replication-backfills with an optional ruleIndex, GET "
    "/api/v1/registry/replication-backfills[/<id>], POST /api/v1/registry/replication-backfills/<id>/stop"
)
unsupported(
    protocol.ECR,
    [
        "StartReplicationBackfill",
        "DescribeReplicationBackfillResults",
        "ListReplicationBackfills",
        "StopReplicationBackfill",
    ],
    UNSUPPORTED_BACKFILLS,
)

from __future__ import annotations

import json
from datetime import UTC, datetime

from apps.iam.policy import PolicyKind, parse_policy, repository_arn

OWNER = "111122223333"
OTHER = "444455556666"
REGION = "eu-west-1"
REPO = repository_arn(OWNER, REGION, "team/app")
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def identity(*statements: dict, name: str = "identity") -> object:
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), name=name)


def resource(*statements: dict, name: str = "repository") -> object:
    return parse_policy(
        json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        kind=PolicyKind.RESOURCE,
        name=name,
    )

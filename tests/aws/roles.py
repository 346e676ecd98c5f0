"""IAM set-up for the AWS wire API's live tests, through the management API
(/api/v1/iam/...), signed in with an account's access key as any user of it would:
roles with a trust policy and attached managed policies, further access keys."""

from __future__ import annotations

import json

import requests

from .conftest import AwsAccount

# Berth's ARN partition (BERTH_ARN_PARTITION's default).
PARTITION = "berth"


def management_api(
    aws_account: AwsAccount, method: str, path: str, *, expect: int | tuple[int, ...] = (200, 201, 204), **kwargs
):
    """``path`` of /api/v1/ with the account's root access key (HTTP Basic)."""
    response = requests.request(
        method,
        f"{aws_account.server.url}/api/v1/{path}",
        auth=(aws_account.access_key_id, aws_account.secret_access_key),
        timeout=30,
        **kwargs,
    )
    expected = (expect,) if isinstance(expect, int) else expect
    assert response.status_code in expected, f"{method} {path}: {response.status_code} {response.text[:2000]}"
    return response.json() if response.content else None


def root_arn(account_id: str) -> str:
    return f"arn:{PARTITION}:iam::{account_id}:root"


def role_arn(account_id: str, name: str) -> str:
    return f"arn:{PARTITION}:iam::{account_id}:role/{name}"


def create_role(
    aws_account: AwsAccount,
    name: str,
    *,
    trusted: str | None = None,
    policies: tuple[str, ...] = (),
    max_session_duration: int | None = None,
) -> str:
    """A role whose trust policy lets ``trusted`` (an ARN; the account's root by
    default, which delegates to the account's own policies) assume it, with the
    managed ``policies`` attached; its ARN."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": trusted or root_arn(aws_account.account_id)},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    body = {"roleName": name, "assumeRolePolicyDocument": json.dumps(trust)}
    if max_session_duration is not None:
        body["maxSessionDuration"] = max_session_duration
    created = management_api(aws_account, "POST", "iam/roles", json=body)
    for policy_arn in policies:
        management_api(aws_account, "POST", f"iam/roles/{name}/policies", json={"policyArn": policy_arn})
    assert created["arn"] == role_arn(aws_account.account_id, name), created
    return created["arn"]


def new_access_key(aws_account: AwsAccount) -> tuple[str, str]:
    """A second access key of the account's root user: (id, secret)."""
    created = management_api(aws_account, "POST", "access-keys")
    return created["accessKeyId"], created["secretAccessKey"]


def set_access_key_status(aws_account: AwsAccount, access_key_id: str, status: str) -> None:
    """ACTIVE or INACTIVE, as PATCH /api/v1/access-keys/<id> allows."""
    changed = management_api(aws_account, "PATCH", f"access-keys/{access_key_id}", json={"status": status})
    assert changed["status"] == status, changed


def expire_role_session(server, access_key_id: str) -> None:
    """End a role session's lifetime now, in the server's database (its credentials
    then answer ExpiredToken), rather than wait out AssumeRole's 15 minutes at least."""
    code = (
        "from datetime import timedelta; from django.utils import timezone; "
        "from apps.iam.models import RoleSession; "
        f"n = RoleSession.objects.filter(access_key_id={access_key_id!r})"
        ".update(expires_at=timezone.now() - timedelta(seconds=5)); "
        "assert n == 1, n"
    )
    server.cli("shell", "-c", code)

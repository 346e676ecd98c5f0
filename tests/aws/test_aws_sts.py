"""STS over the AWS Query protocol against a live server, with boto3's own sts
client (form-encoded requests, XML answers parsed by botocore's QueryParser)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import botocore
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import CLIENT_CONFIG
from .roles import create_role, expire_role_session, management_api, role_arn, root_arn
from .wire import signed_post

# STS over the Query protocol does not depend on the database: one pass runs it.
pytestmark = pytest.mark.database_independent(pass_="postgres")

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"


def error_of(raised: pytest.ExceptionInfo) -> tuple[str, str, int]:
    response = raised.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def wait_for_event(aws_account, event_name: str) -> dict:
    """Audit events reach the trail after the response: poll for one."""
    for _ in range(40):
        events = management_api(aws_account, "GET", "audit/events", params={"event_name": event_name})["events"]
        if events:
            return events[0]
        time.sleep(0.25)
    raise AssertionError(f"no {event_name} event in the trail")


def test_assume_role_and_get_caller_identity(aws_account):
    account_id = aws_account.account_id
    sts = aws_account.client("sts")
    identity = sts.get_caller_identity()
    assert identity["Account"] == account_id
    assert identity["Arn"] == root_arn(account_id)
    assert identity["UserId"] == account_id
    assert identity["ResponseMetadata"]["RequestId"]

    arn = create_role(aws_account, "deployer", policies=("BerthRegistryReadOnly",))
    before = datetime.now(UTC).replace(microsecond=0)
    assumed = sts.assume_role(RoleArn=arn, RoleSessionName="release-42", DurationSeconds=900)
    credentials, user = assumed["Credentials"], assumed["AssumedRoleUser"]
    assert credentials["AccessKeyId"].startswith("BSIA")
    assert credentials["SecretAccessKey"] and credentials["SessionToken"]
    assert before + timedelta(seconds=900) <= credentials["Expiration"] <= datetime.now(UTC) + timedelta(seconds=901)
    assert user["Arn"] == f"arn:berth:sts::{account_id}:assumed-role/deployer/release-42"
    assert user["AssumedRoleId"].endswith(":release-42")
    event = wait_for_event(aws_account, "AssumeRole")
    assert event["requestParameters"]["roleSessionName"] == "release-42"

    session = {
        "access_key_id": credentials["AccessKeyId"],
        "secret_access_key": credentials["SecretAccessKey"],
        "session_token": credentials["SessionToken"],
    }
    as_role = aws_account.client("sts", **session).get_caller_identity()
    assert as_role["Arn"] == user["Arn"]
    assert as_role["UserId"] == user["AssumedRoleId"]
    assert as_role["Account"] == account_id
    # The session's credentials work for ECR, as far as the role's policy allows.
    ecr = aws_account.client("ecr", **session)
    assert ecr.describe_repositories()["repositories"] == []
    with pytest.raises(ClientError) as raised:
        ecr.create_repository(repositoryName="by-role")
    assert error_of(raised)[0] == "AccessDeniedException"

    # The read-only role's session may not assume roles (its policies do not allow sts:AssumeRole).
    with pytest.raises(ClientError) as raised:
        aws_account.client("sts", **session).assume_role(RoleArn=arn, RoleSessionName="chained")
    code, message, status = error_of(raised)
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"{user['Arn']} is not authorized to perform sts:AssumeRole")


def test_sts_refusals(aws_account):
    account_id = aws_account.account_id
    sts = aws_account.client("sts")
    arn = create_role(aws_account, "short", max_session_duration=3600)

    with pytest.raises(ClientError) as raised:
        sts.assume_role(RoleArn=role_arn(account_id, "missing"), RoleSessionName="s1")
    code, message, status = error_of(raised)
    assert (code, status) == ("AccessDenied", 403)
    assert "is not authorized to perform sts:AssumeRole" in message

    with pytest.raises(ClientError) as raised:
        sts.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=3601)
    assert error_of(raised)[0] == "ValidationError"

    # A session policy would narrow the session: refused, never silently dropped.
    with pytest.raises(ClientError) as raised:
        sts.assume_role(RoleArn=arn, RoleSessionName="s1", Policy='{"Version":"2012-10-17","Statement":[]}')
    code, message, _ = error_of(raised)
    assert code == "ValidationError" and "session policies" in message

    with pytest.raises(ClientError) as raised:
        sts.get_session_token()
    code, message, _ = error_of(raised)
    assert code == "UnsupportedOperationException"
    assert "GetSessionToken" in message and "AssumeRole" in message

    # Authentication, in STS's words.
    wrong = aws_account.client("sts", secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as raised:
        wrong.get_caller_identity()
    assert error_of(raised)[:1] == ("SignatureDoesNotMatch",)
    unknown = aws_account.client("sts", access_key_id="BKIANOSUCHKEY0000000")
    with pytest.raises(ClientError) as raised:
        unknown.get_caller_identity()
    assert error_of(raised)[0] == "InvalidClientTokenId"
    unsigned = aws_account.session().client(
        "sts",
        endpoint_url=aws_account.server.url,
        config=CLIENT_CONFIG.merge(Config(signature_version=botocore.UNSIGNED)),
    )
    with pytest.raises(ClientError) as raised:
        unsigned.get_caller_identity()
    assert error_of(raised)[0] == "MissingAuthenticationToken"

    assumed = sts.assume_role(RoleArn=arn, RoleSessionName="ending", DurationSeconds=900)["Credentials"]
    expire_role_session(aws_account.server, assumed["AccessKeyId"])
    expired = aws_account.client(
        "sts",
        access_key_id=assumed["AccessKeyId"],
        secret_access_key=assumed["SecretAccessKey"],
        session_token=assumed["SessionToken"],
    )
    with pytest.raises(expired.exceptions.ExpiredTokenException):
        expired.get_caller_identity()


def test_query_wire_format(berth, aws_account):
    """What goes over the wire, without botocore: an unsigned form answers in XML
    with the namespace and the request id; an unknown action is InvalidAction."""
    response = requests.post(
        berth.url + "/",
        data={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
        timeout=30,
    )
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("text/xml")
    assert response.text.startswith(f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type>')
    assert "<Code>MissingAuthenticationToken</Code>" in response.text
    assert f"<RequestId>{response.headers['x-amzn-RequestId']}</RequestId>" in response.text

    response = requests.post(berth.url + "/", data={"Action": "GetCallerIdentity", "Version": "1999-01-01"}, timeout=30)
    assert response.status_code == 400 and "<Code>NoSuchVersion</Code>" in response.text

    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    response = signed_post(aws_account, "Action=NoSuchAction&Version=2011-06-15", service="sts", headers=form)
    assert response.status_code == 400 and "<Code>InvalidAction</Code>" in response.text, response.text
    # Signed for ECR, sent to STS: the credential scope names the wrong service.
    response = signed_post(aws_account, "Action=GetCallerIdentity&Version=2011-06-15", service="ecr", headers=form)
    assert response.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in response.text, response.text
    assert "correct service: sts" in response.text
    response = signed_post(aws_account, "Action=GetCallerIdentity&Version=2011-06-15", service="sts", headers=form)
    assert response.status_code == 200, response.text
    assert response.text.startswith(f'<GetCallerIdentityResponse xmlns="{NAMESPACE}"><GetCallerIdentityResult>')
    assert f"<Account>{aws_account.account_id}</Account>" in response.text

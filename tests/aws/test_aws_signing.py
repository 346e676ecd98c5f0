"""Authentication of the AWS endpoint against a live server, as boto3 meets it:
each refusal is the exception botocore raises for AWS's own front door (a wrong
secret, a stale signature, an unknown or deactivated key, an ended role session,
another region, no signature at all), and `/` stays the gallery's for everyone
else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import botocore
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import CLIENT_CONFIG, REGION
from .roles import create_role, expire_role_session, new_access_key, set_access_key_status
from .wire import signed_post

# What these check (signatures, keys, sessions) no database changes: they run in one pass.
pytestmark = pytest.mark.database_independent(pass_="postgres")

ECR_JSON = {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
}


def refusal(raised: pytest.ExceptionInfo) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_wrong_secret_stale_signature_and_wrong_region(aws_account):
    wrong = aws_account.client("ecr", secret_access_key="not-" + aws_account.secret_access_key)
    with pytest.raises(ClientError) as raised:
        wrong.describe_repositories()
    code, message = refusal(raised)
    assert code == "InvalidSignatureException"
    assert "does not match the signature you provided" in message

    # Signed 20 minutes ago (botocore's clock turned back): more than the 15 minutes allowed.
    long_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=20)
    response = signed_post(aws_account, b"{}", service="ecr", headers=ECR_JSON, signed_at=long_ago)
    assert response.status_code == 403, response.text
    assert response.json()["__type"] == "InvalidSignatureException"
    assert response.json()["message"].startswith("Signature expired: " + long_ago.strftime("%Y%m%dT%H%M%SZ"))
    ecr = aws_account.client("ecr")
    with (
        pytest.raises(ClientError) as raised,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr("botocore.auth.get_current_datetime", lambda *args, **kwargs: long_ago)
        ecr.describe_repositories()
    code, message = refusal(raised)
    assert code == "InvalidSignatureException" and message.startswith("Signature expired")

    elsewhere = aws_account.session().client(
        "ecr", region_name="us-east-1", endpoint_url=aws_account.server.url, config=CLIENT_CONFIG
    )
    with pytest.raises(ClientError) as raised:
        elsewhere.describe_repositories()
    code, message = refusal(raised)
    assert code == "InvalidSignatureException"
    assert "'us-east-1'" in message and f"region is {REGION!r}" in message

    # The key still works once signed right: the refusals locked nothing.
    assert ecr.describe_repositories()["repositories"] == []


def test_unknown_and_deactivated_keys(aws_account):
    unknown = aws_account.client("ecr", access_key_id="BKIANOSUCHKEY0000000")
    with pytest.raises(ClientError) as raised:
        unknown.describe_repositories()
    assert refusal(raised) == ("UnrecognizedClientException", "The security token included in the request is invalid.")

    key_id, secret = new_access_key(aws_account)
    second = aws_account.client("ecr", access_key_id=key_id, secret_access_key=secret)
    assert second.describe_repositories()["repositories"] == []
    set_access_key_status(aws_account, key_id, "INACTIVE")
    with pytest.raises(ClientError) as raised:
        second.describe_repositories()
    assert refusal(raised)[0] == "UnrecognizedClientException"
    set_access_key_status(aws_account, key_id, "ACTIVE")
    assert second.describe_repositories()["repositories"] == []


def test_expired_role_session(aws_account):
    arn = create_role(aws_account, "short-lived", policies=("BerthRegistryReadOnly",))
    assumed = aws_account.client("sts").assume_role(RoleArn=arn, RoleSessionName="brief", DurationSeconds=900)
    credentials = assumed["Credentials"]
    ecr = aws_account.client(
        "ecr",
        access_key_id=credentials["AccessKeyId"],
        secret_access_key=credentials["SecretAccessKey"],
        session_token=credentials["SessionToken"],
    )
    assert ecr.describe_repositories()["repositories"] == []
    expire_role_session(aws_account.server, credentials["AccessKeyId"])
    with pytest.raises(ClientError) as raised:
        ecr.describe_repositories()
    assert refusal(raised) == ("ExpiredTokenException", "The security token included in the request is expired")

    # Without its session token, a temporary key is no key at all.
    tokenless = aws_account.client(
        "ecr", access_key_id=credentials["AccessKeyId"], secret_access_key=credentials["SecretAccessKey"]
    )
    with pytest.raises(ClientError) as raised:
        tokenless.describe_repositories()
    assert refusal(raised)[0] == "UnrecognizedClientException"


def test_unsigned_requests_and_the_gallery(berth, aws_account):
    unsigned = aws_account.session().client(
        "ecr", endpoint_url=berth.url, config=CLIENT_CONFIG.merge(Config(signature_version=botocore.UNSIGNED))
    )
    with pytest.raises(ClientError) as raised:
        unsigned.describe_repositories()
    code, message = refusal(raised)
    assert code == "MissingAuthenticationTokenException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    # `/` without X-Amz-Target and without a signature is the gallery's home page, which takes no POST.
    assert requests.post(berth.url + "/", data=b"{}", timeout=30).status_code == 405
    assert requests.post(berth.url + "/", data={"q": "search"}, timeout=30).status_code == 405
    home = requests.get(berth.url + "/", timeout=30)
    assert home.status_code == 200 and "text/html" in home.headers["Content-Type"]

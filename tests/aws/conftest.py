"""Fixtures for the AWS wire API against a live `berth serve` (tests/e2e's
`berth`): an account with a root access key, and boto3 clients signed with it
(real botocore, real Signature Version 4) whose endpoint is the server's base URL."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import boto3
import pytest
import requests
from botocore.config import Config

from tests.e2e.conftest import Account, BerthServer, berth, server_tracebacks_fail_the_test  # noqa: F401  (fixtures)

REGION = "local"  # BERTH_REGION's default, which the credential scope must name
CLIENT_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=60)


@dataclass
class AwsAccount:
    server: BerthServer
    account: Account
    access_key_id: str
    secret_access_key: str

    @property
    def account_id(self) -> str:
        return self.account.account_id

    def session(self, **credentials) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=credentials.get("access_key_id", self.access_key_id),
            aws_secret_access_key=credentials.get("secret_access_key", self.secret_access_key),
            aws_session_token=credentials.get("session_token"),
            region_name=REGION,
        )

    def client(self, service: str, **credentials):
        return self.session(**credentials).client(service, endpoint_url=self.server.url, config=CLIENT_CONFIG)


def root_access_key(server: BerthServer, account: Account) -> tuple[str, str]:
    response = requests.post(
        f"{server.url}/api/v1/auth/access-keys",
        json={"username": account.username, "password": account.password},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["accessKeyId"], body["secretAccessKey"]


def new_aws_account(server: BerthServer, name: str = "aws") -> AwsAccount:
    account = server.create_account(f"{name}-{secrets.token_hex(3)}")
    return AwsAccount(server, account, *root_access_key(server, account))


@pytest.fixture
def aws_account(berth) -> AwsAccount:  # noqa: F811  (the fixture imported above)
    return new_aws_account(berth)


@pytest.fixture
def ecr(aws_account):
    return aws_account.client("ecr")


@pytest.fixture
def ecr_public(aws_account):
    return aws_account.client("ecr-public")

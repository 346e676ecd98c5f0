"""In-process requests to the AWS endpoint: signed with botocore's own SigV4 signer
and sent through Django's test client."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.aws import protocol
from apps.conftest import Tenant

HOST = "testserver"


@dataclass
class Answer:
    status: int
    body: dict
    headers: dict

    @property
    def error_type(self) -> str:
        return self.body.get("__type", "")


def signed_headers(
    body: bytes,
    *,
    key_id: str,
    secret: str,
    service: str,
    headers: dict,
    token: str | None = None,
    region: str | None = None,
    path: str = "/",
) -> dict:
    """The headers botocore's SigV4Auth adds to this request."""
    request = AWSRequest(method="POST", url=f"http://{HOST}{path}", data=body, headers=headers)
    SigV4Auth(Credentials(key_id, secret, token), service, region or settings.BERTH_REGION).add_auth(request)
    return dict(request.headers.items())


class AwsClient:
    """A signed AWS JSON 1.1 caller as one access key (or temporary credentials)."""

    def __init__(self, key_id: str, secret: str, token: str | None = None) -> None:
        self.key_id, self.secret, self.token = key_id, secret, token
        self.client = Client()

    def post(self, body: bytes, headers: dict, *, service: str, region: str | None = None) -> Answer:
        headers = signed_headers(
            body,
            key_id=self.key_id,
            secret=self.secret,
            service=service,
            headers=headers,
            token=self.token,
            region=region,
        )
        return self.send(body, headers)

    def send(self, body: bytes, headers: dict) -> Answer:
        meta = {"HTTP_HOST": HOST}
        for name, value in headers.items():
            if name.lower() == "content-type":
                continue
            meta["HTTP_" + name.upper().replace("-", "_")] = value
        response = self.client.generic(
            "POST",
            "/",
            body,
            content_type=headers.get("Content-Type", protocol.JSON_CONTENT_TYPE),
            **meta,
        )
        try:
            parsed = json.loads(response.content) if response.content else {}
        except ValueError:
            parsed = {"raw": response.content.decode(errors="replace")}
        return Answer(response.status_code, parsed, dict(response.items()))

    def call(self, operation: str, params: dict | None = None, *, service: str = protocol.ECR, **options) -> Answer:
        prefix = {prefix_service: prefix for prefix, prefix_service in protocol.TARGET_PREFIXES.items()}[service]
        body = json.dumps(params or {}).encode()
        headers = {"Content-Type": protocol.JSON_CONTENT_TYPE, "X-Amz-Target": f"{prefix}.{operation}"}
        return self.post(body, headers, service=protocol.signing_name(service), **options)


@pytest.fixture
def aws_client(db):
    """An AwsClient signed with a new access key of ``tenant``'s root user."""

    def make(tenant: Tenant) -> AwsClient:
        user = get_user_model().objects.get(username=tenant.username)
        new_key = account_services.create_access_key(actor=Actor.system("test"), user=user)
        return AwsClient(new_key.access_key.access_key_id, new_key.secret)

    return make

"""In-process requests to the AWS endpoint: signed with botocore's own SigV4 signer
and sent through Django's test client."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
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
    """A signed AWS JSON 1.1 caller as one access key (or temporary credentials),
    of ``service`` unless a call names another: raw requests and answers, for the
    protocol's own cases (boto3_client is boto3 itself)."""

    def __init__(self, key_id: str, secret: str, token: str | None = None, *, service: str = protocol.ECR) -> None:
        self.key_id, self.secret, self.token, self.service = key_id, secret, token, service
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

    def call(self, operation: str, params: dict | None = None, *, service: str | None = None, **options) -> Answer:
        service = service or self.service
        prefix = {prefix_service: prefix for prefix, prefix_service in protocol.TARGET_PREFIXES.items()}[service]
        body = json.dumps(params or {}, default=lambda blob: base64.b64encode(blob).decode()).encode()
        headers = {"Content-Type": protocol.JSON_CONTENT_TYPE, "X-Amz-Target": f"{prefix}.{operation}"}
        return self.post(body, headers, service=protocol.signing_name(service), **options)

    def __call__(self, operation: str, **params) -> tuple[int, dict]:
        answer = self.call(operation, params)
        return answer.status, answer.body

    def ok(self, operation: str, **params) -> dict:
        answer = self.call(operation, params)
        assert answer.status == 200, (operation, answer.body)
        return answer.body

    def refused(self, operation: str, **params) -> str:
        """The error's code (``__type``)."""
        answer = self.call(operation, params)
        assert answer.status >= 400, (operation, answer.body)
        return answer.error_type

    def fails(self, operation: str, code: str, **params) -> str:
        """The message of the error ``code`` the call must answer."""
        answer = self.call(operation, params)
        assert answer.status >= 400 and answer.error_type == code, (operation, answer.status, answer.body)
        return answer.body["message"]


def new_access_key(user) -> tuple[str, str]:
    """A new access key of ``user``: (id, secret)."""
    new_key = account_services.create_access_key(actor=Actor.system("test"), user=user)
    return new_key.access_key.access_key_id, new_key.secret


def user_of(tenant: Tenant):
    return get_user_model().objects.get(username=tenant.username)


@pytest.fixture
def aws_client(db):
    """An AwsClient signed with a new access key of ``tenant``'s root user."""

    def make(tenant: Tenant, *, service: str = protocol.ECR) -> AwsClient:
        return AwsClient(*new_access_key(user_of(tenant)), service=service)

    return make


class _Body:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **kwargs):
        yield self.content


def _through_django(request, **kwargs) -> AWSResponse:
    """botocore's prepared request, served by Django's test client."""
    headers = {key: value.decode() if isinstance(value, bytes) else value for key, value in request.headers.items()}
    content_type = headers.pop("Content-Type", protocol.JSON_CONTENT_TYPE)
    meta = {
        f"HTTP_{key.upper().replace('-', '_')}": value
        for key, value in headers.items()
        if key.lower() not in ("content-length", "host")
    }
    meta["HTTP_HOST"] = urlsplit(request.url).netloc  # what SigV4 signed as host
    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    response = Client().generic("POST", "/", data=body, content_type=content_type, **meta)
    return AWSResponse(request.url, response.status_code, dict(response.items()), _Body(response.content))


def boto3_client(user, service: str = protocol.ECR):
    """boto3's own client of ``service``, signed with a new access key of ``user``,
    whose requests Django's test client serves (no server, no socket)."""
    key_id, secret = new_access_key(user)
    client = boto3.Session(
        aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=settings.BERTH_REGION
    ).client(service, endpoint_url=f"http://{HOST}", config=Config(retries={"max_attempts": 1}))
    client.meta.events.register("before-send", _through_django)
    return client

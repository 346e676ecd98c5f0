"""STS over the Query protocol in process: botocore-signed form requests through
Django's test client, answers read by botocore's QueryParser. With the audit
trail strict (the tests' settings), AssumeRole proves its service records its
event."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from botocore.parsers import QueryParser
from django.test import Client

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.aws import protocol
from apps.aws.tests.conftest import HOST, AwsClient
from apps.iam import services as iam_services
from apps.iam.models import RoleSession

FORM = "application/x-www-form-urlencoded; charset=utf-8"


def sts(client: AwsClient, action: str, **params) -> tuple[int, dict]:
    """``action`` signed by ``client``: (status, what botocore parses from the answer)."""
    body = urlencode({"Action": action, "Version": "2011-06-15", **params}).encode()
    answer = client.post(body, {"Content-Type": FORM}, service="sts")
    assert answer.headers["Content-Type"] == "text/xml", answer.headers
    raw = answer.body["raw"].encode()
    operation = protocol.operation_model(protocol.STS, action)
    response = {"body": raw, "headers": answer.headers, "status_code": answer.status}
    return answer.status, QueryParser().parse(response, operation.output_shape if operation else None)


def trusting_role(tenant, name: str = "Deployer"):
    trust = json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": tenant.id}, "Action": "sts:AssumeRole"}]}
    )
    return iam_services.create_role(actor=Actor.system("test"), account=tenant.account, name=name, trust_policy=trust)


@pytest.mark.django_db
def test_assume_role_then_call_as_the_session(tenant, aws_client):
    client = aws_client(tenant)
    status, identity = sts(client, "GetCallerIdentity")
    assert status == 200
    assert (identity["Account"], identity["UserId"]) == (tenant.id, tenant.id)
    assert identity["Arn"].endswith(f"::{tenant.id}:root")

    role = trusting_role(tenant)
    status, assumed = sts(client, "AssumeRole", RoleArn=role.arn, RoleSessionName="ci-7", DurationSeconds=900)
    assert status == 200, assumed
    session = RoleSession.objects.get(access_key_id=assumed["Credentials"]["AccessKeyId"])
    assert session.session_name == "ci-7"
    assert assumed["AssumedRoleUser"] == {"AssumedRoleId": f"{role.pk}:ci-7", "Arn": session.arn}
    assert assumed["Credentials"]["Expiration"] == session.expires_at
    recorded = Event.objects.get(event_name="AssumeRole", event_source="sts")
    assert recorded.request_parameters["roleSessionName"] == "ci-7"

    credentials = assumed["Credentials"]
    as_session = AwsClient(credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])
    status, identity = sts(as_session, "GetCallerIdentity")
    assert status == 200
    assert (identity["Arn"], identity["UserId"]) == (session.arn, f"{role.pk}:ci-7")


@pytest.mark.django_db
def test_refusals_in_stss_words(tenant, make_tenant, aws_client):
    client = aws_client(tenant)
    role = trusting_role(tenant)
    stranger = aws_client(make_tenant("stranger"))

    status, refused = sts(stranger, "AssumeRole", RoleArn=role.arn, RoleSessionName="in")
    assert (status, refused["Error"]["Code"], refused["Error"]["Type"]) == (403, "AccessDenied", "Sender")
    assert not RoleSession.objects.exists()

    status, refused = sts(client, "AssumeRole", RoleArn="not-an-arn-at-all-but-long", RoleSessionName="in")
    assert (status, refused["Error"]["Code"]) == (400, "ValidationError")
    assert refused["Error"]["Message"].startswith("RoleArn:")

    status, refused = sts(client, "AssumeRole", RoleArn=role.arn, RoleSessionName="in", ExternalId="abc123")
    assert (status, refused["Error"]["Code"]) == (400, "ValidationError")
    assert "ExternalId" in refused["Error"]["Message"]

    status, refused = sts(client, "AssumeRole", RoleArn=role.arn)
    assert (status, refused["Error"]["Code"]) == (400, "ValidationError")
    assert "RoleSessionName" in refused["Error"]["Message"]

    status, refused = sts(
        client, "AssumeRoleWithWebIdentity", RoleArn=role.arn, RoleSessionName="x1", WebIdentityToken="t"
    )
    assert (status, refused["Error"]["Code"]) == (400, "UnsupportedOperationException")
    assert "identity providers" in refused["Error"]["Message"]

    wrong = AwsClient(client.key_id, "not-the-secret")
    status, refused = sts(wrong, "GetCallerIdentity")
    assert (status, refused["Error"]["Code"]) == (403, "SignatureDoesNotMatch")
    status, refused = sts(AwsClient("BKIANOSUCHKEY0000000", "secret"), "GetCallerIdentity")
    assert (status, refused["Error"]["Code"]) == (403, "InvalidClientTokenId")


@pytest.mark.django_db
def test_slash_tells_query_requests_from_the_gallerys():
    client = Client()
    unsigned = client.post("/", "Action=GetCallerIdentity&Version=2011-06-15", content_type=FORM, HTTP_HOST=HOST)
    assert unsigned.status_code == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in unsigned.content
    # A form without an Action is not AWS's: the gallery's home page takes no POST.
    assert client.post("/", "q=nginx", content_type=FORM, HTTP_HOST=HOST).status_code == 405
    # Nor is a multipart form, whatever it holds.
    assert client.post("/", {"Action": "GetCallerIdentity"}, HTTP_HOST=HOST).status_code == 405
    assert client.post("/", b"{}", content_type="application/json", HTTP_HOST=HOST).status_code == 405

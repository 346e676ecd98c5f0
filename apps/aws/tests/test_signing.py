"""apps/aws/signing.py against botocore's own signer: requests botocore's
SigV4Auth.add_auth signs (query strings, odd header spacing, a session token, an
empty body, a unicode body) verify, as Django receives them (RequestFactory);
anything changed after signing, or signed out of scope or out of time, does not.
And the Authorization header parser's refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from apps.accounts import services as account_services
from apps.accounts.models import AccessKeyStatus
from apps.audit.events import Actor
from apps.aws import signing
from apps.aws.errors import (
    ExpiredToken,
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    UnrecognizedClient,
)
from apps.iam import selectors as iam_selectors
from apps.iam import services as iam_services
from apps.iam.models import RoleSession

HOST = "berth.test:5000"
TARGET = "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"


@pytest.fixture
def access_key(tenant):
    """(id, secret) of a new key of the tenant's root user."""
    user = get_user_model().objects.get(username=tenant.username)
    created = account_services.create_access_key(user=user, actor=Actor.system("test"))
    return created.access_key.access_key_id, created.secret


@pytest.fixture
def role_session(tenant):
    """(key id, secret, session token) of a role session of the tenant."""
    trust = json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": tenant.id}, "Action": "sts:AssumeRole"}]}
    )
    role = iam_services.create_role(
        actor=Actor.system("test"), account=tenant.account, name="Signer", trust_policy=trust
    )
    root = iam_selectors.caller_for_user(get_user_model().objects.get(username=tenant.username))
    assumed = iam_services.assume_role(caller=root, role_arn=role.arn, session_name="sig", source_ip="127.0.0.1")
    return assumed.session.access_key_id, assumed.secret_access_key, assumed.session_token


def signed(
    key: tuple,
    *,
    body: bytes = b"{}",
    path: str = "/",
    headers: dict | None = None,
    service: str = "ecr",
    region: str = "local",
    at: datetime | None = None,
) -> AWSRequest:
    """An AWSRequest botocore's SigV4Auth signed with ``key`` ((id, secret[, token]))."""
    request = AWSRequest(
        method="POST",
        url=f"http://{HOST}{path}",
        data=body,
        headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1", **(headers or {})},
    )
    signer = SigV4Auth(Credentials(*key), service, region)
    if at is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
            signer.add_auth(request)
    return request


def as_django(request: AWSRequest, **replace):
    """The request as Django's handler would see it arrive."""
    prepared = request.prepare()
    # The HTTP client adds Host (botocore signs it from the URL).
    headers = {"host": HOST, **{name.lower(): value for name, value in prepared.headers.items()}}
    headers.update(replace.pop("headers", {}))
    path = prepared.url.split(HOST, 1)[1]
    meta = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in headers.items()
        if name not in ("content-type", "content-length")
    }
    # (RequestFactory sets CONTENT_TYPE only with a body; a server always has it.)
    meta["CONTENT_TYPE"] = headers.get("content-type", "")
    return RequestFactory().generic("POST", path, data=replace.pop("body", prepared.body or b""), **meta)


def verify(request: AWSRequest, **replace) -> signing.Signer:
    django_request = as_django(request, **replace)
    return signing.verify(django_request, django_request.body, services=("ecr", "sts"))


# -- what botocore signs verifies ----------------------------------------------------------


def test_a_plain_request_verifies(access_key):
    signer = verify(signed(access_key))
    assert signer.access_key.access_key_id == access_key[0]
    assert signer.session is None
    assert (signer.region, signer.service) == ("local", "ecr")


def test_query_strings_verify(access_key):
    request = signed(access_key, path="/?b=2&a=1&empty=&space=a%20b&slash=x%2Fy&tilde=~u&plus=1%2B1&a=0")
    assert verify(request).access_key_id == access_key[0]


def test_odd_header_spacing_verifies(access_key):
    request = signed(access_key, headers={"X-Amz-Meta-Odd": "  spaced    out\tvalue  ", "X-Amz-Meta-Empty": ""})
    assert verify(request).access_key_id == access_key[0]


def test_an_empty_body_verifies(access_key):
    assert verify(signed(access_key, body=b"")).access_key_id == access_key[0]


def test_a_unicode_body_verifies(access_key):
    body = json.dumps({"repositoryNames": ["ünïcödé/名前"]}, ensure_ascii=False).encode()
    assert verify(signed(access_key, body=body)).access_key_id == access_key[0]


def test_a_form_body_for_sts_verifies(access_key):
    request = signed(
        access_key,
        body=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "X-Amz-Target": ""},
        service="sts",
    )
    assert verify(request).service == "sts"


def test_a_session_token_verifies(role_session):
    signer = verify(signed(role_session))
    assert signer.access_key is None
    assert signer.session.access_key_id == role_session[0]
    assert signer.access_key_id == role_session[0]


# -- what changed after signing does not -----------------------------------------------------


def test_a_changed_body_or_header_or_query_does_not_verify(access_key):
    request = signed(access_key, path="/?a=1", headers={"X-Amz-Meta-Signed": "yes"})
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(request, body=b'{"changed":1}')
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(request, headers={"x-amz-meta-signed": "no"})
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(request, headers={"x-amz-target": "AmazonEC2ContainerRegistry_V20150921.DeleteRepository"})
    tampered = signed(access_key, path="/?a=2", headers={"X-Amz-Meta-Signed": "yes"})
    tampered.headers["Authorization"] = request.headers["Authorization"]
    tampered.headers["X-Amz-Date"] = request.headers["X-Amz-Date"]
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(tampered)


def test_a_wrong_secret_does_not_verify(access_key):
    with pytest.raises(InvalidSignature, match="Check your AWS Secret Access Key"):
        verify(signed((access_key[0], "not-the-secret")))


def test_out_of_scope_refusals(access_key):
    with pytest.raises(InvalidSignature, match="correct service: ecr or sts"):
        verify(signed(access_key, service="s3"))
    with pytest.raises(InvalidSignature, match="region.*'us-east-1'.*'local'"):
        verify(signed(access_key, region="us-east-1"))


def test_a_request_signed_long_ago_or_ahead_is_refused(access_key):
    now = datetime.now(UTC)
    with pytest.raises(InvalidSignature, match="Signature expired"):
        verify(signed(access_key, at=now - timedelta(minutes=20)))
    with pytest.raises(InvalidSignature, match="Signature not yet current"):
        verify(signed(access_key, at=now + timedelta(minutes=20)))
    # Within the fifteen minutes AWS allows: fine.
    assert verify(signed(access_key, at=now - timedelta(minutes=10))).access_key_id == access_key[0]


def test_unknown_and_inactive_keys_are_unrecognized(tenant, access_key):
    with pytest.raises(UnrecognizedClient, match="security token included in the request is invalid"):
        verify(signed(("BKIANOSUCHKEY0000000", "secret")))
    user = get_user_model().objects.get(username=tenant.username)
    key = user.access_keys.get(access_key_id=access_key[0])
    account_services.deactivate_access_key(access_key=key, actor=Actor.system("test"))
    assert key.status == AccessKeyStatus.INACTIVE
    with pytest.raises(UnrecognizedClient):
        verify(signed(access_key))


def test_role_session_refusals(role_session):
    key_id, secret, token = role_session
    with pytest.raises(UnrecognizedClient, match="session token"):
        verify(signed((key_id, secret)))
    with pytest.raises(UnrecognizedClient):
        verify(signed((key_id, secret, token + "x")))
    RoleSession.objects.filter(access_key_id=key_id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(ExpiredToken, match="expired"):
        verify(signed(role_session))


def test_the_signing_time_must_be_signed_and_match_the_scope(access_key):
    request = signed(access_key)
    with pytest.raises(IncompleteSignature, match="X-Amz-Date"):
        verify(request, headers={"x-amz-date": "yesterday"})
    other_day = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y%m%dT%H%M%SZ")
    with pytest.raises(InvalidSignature, match="valid date"):
        verify(request, headers={"x-amz-date": other_day})
    unsigned_date = request.headers["Authorization"].replace("x-amz-date;", "")
    with pytest.raises(IncompleteSignature, match="must include x-amz-date"):
        verify(request, headers={"authorization": unsigned_date})


# -- the Authorization header's parser --------------------------------------------------------

CREDENTIAL = "BKIAEXAMPLE000000000/20261205/local/ecr/aws4_request"


def test_parse_authorization_reads_the_three_fields():
    parsed = signing.parse_authorization(
        f"AWS4-HMAC-SHA256 Credential={CREDENTIAL},  SignedHeaders=Host;X-Amz-Date , Signature=ABCDEF"
    )
    assert parsed == signing.Signature(
        access_key_id="BKIAEXAMPLE000000000",
        date="20261205",
        region="local",
        service="ecr",
        signed_headers=("host", "x-amz-date"),
        signature="abcdef",
    )


@pytest.mark.parametrize(
    ("header", "error", "says"),
    [
        ("", MissingAuthenticationToken, "Missing Authentication Token"),
        ("Basic dXNlcjpwYXNz", IncompleteSignature, "AWS4-HMAC-SHA256"),
        ("AWS4-HMAC-SHA1 Credential=x", IncompleteSignature, "AWS4-HMAC-SHA256"),
        ("AWS4-HMAC-SHA256", IncompleteSignature, "Credential, SignedHeaders, Signature"),
        (f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders=host", IncompleteSignature, "Signature"),
        ("AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=ab", IncompleteSignature, "Credential"),
        (
            "AWS4-HMAC-SHA256 Credential=KEY/20261205/local/ecr, SignedHeaders=host, Signature=ab",
            IncompleteSignature,
            "aws4_request",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=KEY/2026-12-05/local/ecr/aws4_request, SignedHeaders=host, Signature=ab",
            IncompleteSignature,
            "YYYYMMDD",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=KEY/20261205/local/ecr/aws5_request, SignedHeaders=host, Signature=ab",
            IncompleteSignature,
            "aws4_request",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders=x-amz-date, Signature=ab",
            IncompleteSignature,
            "must include host",
        ),
    ],
)
def test_parse_authorization_refusals(header, error, says):
    with pytest.raises(error, match=says):
        signing.parse_authorization(header)

"""AWS Signature Version 4, verified on the server.

A client signs a canonical form of its request (method, path, query, the headers
it names, the body's SHA-256) with a key derived from its secret, the date, the
region and the service. Berth rebuilds the same canonical request from what
arrived and signs it again with the secret it keeps sealed for that key id
(apps.accounts.authentication.signing_key, apps.iam.authentication for role
sessions), then compares. The canonical request, the string to sign and the
signature are botocore's own (botocore.auth.SigV4Auth), told to sign exactly the
headers the client listed, so both sides compute them with one implementation.

Refusals carry the names AWS's front door gives them, which botocore's exceptions
then carry: MissingAuthenticationTokenException, IncompleteSignatureException,
InvalidSignatureException (a wrong signature, or a request signed more than
``CLOCK_SKEW`` from now), UnrecognizedClientException (no such key, or one
deactivated) and ExpiredTokenException (a role session that ended)."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials
from django.conf import settings

from apps.accounts import throttle
from apps.accounts.authentication import SigningKeyUnusable, record_use, signing_key
from apps.accounts.models import AccessKey
from apps.iam import authentication as iam_authentication
from apps.iam.models import RoleSession
from apps.kernel.requests import client_ip

from .errors import (
    ExpiredToken,
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    Throttling,
    UnrecognizedClient,
)

ALGORITHM = "AWS4-HMAC-SHA256"
# How far a request's X-Amz-Date may be from the server's clock, as AWS allows.
CLOCK_SKEW = timedelta(minutes=15)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_FIELD = re.compile(r"\s*(Credential|SignedHeaders|Signature)\s*=\s*([^,\s]*)\s*")
_UNKNOWN_KEY = "The security token included in the request is invalid."


@dataclass(frozen=True)
class Signature:
    """What the Authorization header says."""

    access_key_id: str
    date: str  # YYYYMMDD
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True)
class Signer:
    """Who signed a request that verified: an access key or a role session."""

    access_key: AccessKey | None
    session: RoleSession | None
    region: str
    service: str

    @property
    def access_key_id(self) -> str:
        return self.access_key.access_key_id if self.access_key else self.session.access_key_id


def parse_authorization(header: str) -> Signature:
    """The parts of an `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` header."""
    if not header:
        raise MissingAuthenticationToken("Missing Authentication Token: sign the request with AWS Signature Version 4")
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignature(
            f"Authorization header must use {ALGORITHM} (AWS Signature Version 4), not {algorithm[:40]!r}"
        )
    fields = {}
    for part in rest.split(","):
        match = _FIELD.fullmatch(part)
        if match:
            fields[match.group(1)] = match.group(2)
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)]
    if missing:
        raise IncompleteSignature(f"Authorization header requires {', '.join(missing)}")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not re.fullmatch(r"\d{8}", scope[1]):
        raise IncompleteSignature(
            "Credential must be <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request, "
            f"not {fields['Credential'][:200]!r}"
        )
    signed_headers = tuple(fields["SignedHeaders"].lower().split(";"))
    if "host" not in signed_headers:
        raise IncompleteSignature("SignedHeaders must include host")
    return Signature(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=signed_headers,
        signature=fields["Signature"].lower(),
    )


def _header(request, name: str) -> str | None:
    if name == "content-type":
        return request.META.get("CONTENT_TYPE")
    if name == "content-length":
        return request.META.get("CONTENT_LENGTH")
    return request.META.get("HTTP_" + name.upper().replace("-", "_"))


class _Verifier(SigV4Auth):
    """botocore's signer, signing exactly the headers the client listed (botocore
    itself leaves out a few, such as User-Agent, that other clients may sign)."""

    def __init__(self, credentials: Credentials, service: str, region: str, signed_headers: tuple[str, ...]) -> None:
        super().__init__(credentials, service, region)
        self._signed_headers = signed_headers

    def headers_to_sign(self, request) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name in self._signed_headers:
            headers[name] = request.headers.get(name, "")
        return headers


def expected_signature(request, body: bytes, signature: Signature, secret: str, amz_date: str) -> str:
    """The signature ``secret`` gives this request, computed as botocore computes it."""
    scheme = "https" if request.is_secure() else "http"
    host = _header(request, "host") or ""
    aws_request = AWSRequest(
        method=request.method,
        url=f"{scheme}://{host}{request.get_full_path()}",
        data=body,
        headers={name: _header(request, name) or "" for name in signature.signed_headers},
    )
    aws_request.context["timestamp"] = amz_date
    verifier = _Verifier(Credentials("", secret), signature.service, signature.region, signature.signed_headers)
    canonical = verifier.canonical_request(aws_request)
    return verifier.signature(verifier.string_to_sign(aws_request, canonical), aws_request)


def _request_time(request) -> tuple[str, datetime]:
    amz_date = _header(request, "x-amz-date") or ""
    try:
        return amz_date, datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise IncompleteSignature(
            "the request must carry its signing time in X-Amz-Date (YYYYMMDD'T'HHMMSS'Z')"
        ) from None


def verify(request, body: bytes, *, services: tuple[str, ...], now: datetime | None = None) -> Signer:
    """Who signed ``request`` (whose body is ``body``) for one of ``services``
    (credential scope names); raises the AwsError a client expects otherwise."""
    signature = parse_authorization(request.META.get("HTTP_AUTHORIZATION", ""))
    if signature.service not in services:
        raise InvalidSignature(
            f"Credential should be scoped to correct service: {' or '.join(services)}, not {signature.service[:40]!r}"
        )
    if signature.region != settings.BERTH_REGION:
        raise InvalidSignature(
            f"Credential should be scoped to a valid region, not {signature.region[:40]!r}: this registry's region "
            f"is {settings.BERTH_REGION!r} (aws configure set region {settings.BERTH_REGION})"
        )
    amz_date, signed_at = _request_time(request)
    if amz_date[:8] != signature.date:
        raise InvalidSignature(f"Credential should be scoped to a valid date: {amz_date[:8]}, not {signature.date}")
    if "x-amz-date" not in signature.signed_headers:
        raise IncompleteSignature("SignedHeaders must include x-amz-date")
    now = now or datetime.now(UTC)
    if abs(now - signed_at) > CLOCK_SKEW:
        raise InvalidSignature(
            f"Signature expired: {amz_date} is now earlier than {(now - CLOCK_SKEW).strftime(_AMZ_DATE)} "
            f"({now.strftime(_AMZ_DATE)} - {int(CLOCK_SKEW.total_seconds() // 60)} min.)"
            if signed_at < now
            else f"Signature not yet current: {amz_date} is still later than {(now + CLOCK_SKEW).strftime(_AMZ_DATE)}"
        )

    address = client_ip(request)
    session_token = (_header(request, "x-amz-security-token") or "").strip()
    if iam_authentication.is_temporary_access_key_id(signature.access_key_id):
        subject = f"temporary-key:{signature.access_key_id}"
        _refuse_when_locked(subject, address)
        if not session_token:
            raise UnrecognizedClient(
                f"{_UNKNOWN_KEY} Temporary credentials need their session token in X-Amz-Security-Token."
            )
        if "x-amz-security-token" not in signature.signed_headers:
            raise IncompleteSignature("SignedHeaders must include x-amz-security-token")
        try:
            key = iam_authentication.temporary_signing_key(signature.access_key_id, session_token)
        except iam_authentication.SessionCredentialsExpired:
            raise ExpiredToken("The security token included in the request is expired") from None
        if key is None:
            throttle.count_failure(subject, address)
            raise UnrecognizedClient(_UNKNOWN_KEY)
        secret, signer = key.secret, Signer(None, key.session, signature.region, signature.service)
    else:
        subject = f"access-key:{signature.access_key_id}"
        _refuse_when_locked(subject, address)
        try:
            key = signing_key(signature.access_key_id)
        except SigningKeyUnusable as exc:
            raise UnrecognizedClient(f"{_UNKNOWN_KEY} {exc}") from None
        if key is None:
            throttle.count_failure(subject, address)
            raise UnrecognizedClient(_UNKNOWN_KEY)
        secret, signer = key.secret, Signer(key.access_key, None, signature.region, signature.service)

    expected = expected_signature(request, body, signature, secret, amz_date)
    if not hmac.compare_digest(expected, signature.signature):
        throttle.count_failure(subject, address)
        raise InvalidSignature(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    if signer.access_key is not None:
        record_use(signer.access_key)
    return signer


def _refuse_when_locked(subject: str, address: str) -> None:
    try:
        throttle.refuse_when_locked(subject, address)
    except throttle.Throttled as exc:
        raise Throttling(f"Rate exceeded: {exc}") from None

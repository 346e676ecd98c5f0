"""Requests signed by hand with botocore's own signer (SigV4Auth), sent with
requests: for what a client would never send (an unknown action, a signature made
in the past), and to see the wire's exact bytes."""

from __future__ import annotations

from unittest import mock

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .conftest import REGION, AwsAccount


def signed_post(
    aws_account: AwsAccount,
    body: bytes | str,
    *,
    service: str,
    headers: dict[str, str] | None = None,
    region: str = REGION,
    signed_at=None,
    **credentials,
) -> requests.Response:
    """POST ``body`` to the server's `/`, signed for ``service`` in ``region`` with
    the account's root key (or ``credentials``); ``signed_at``: the signing time
    (a naive UTC datetime) botocore is told it is."""
    request = AWSRequest(method="POST", url=aws_account.server.url + "/", data=body, headers=headers or {})
    signer = SigV4Auth(
        Credentials(
            credentials.get("access_key_id", aws_account.access_key_id),
            credentials.get("secret_access_key", aws_account.secret_access_key),
            credentials.get("session_token"),
        ),
        service,
        region,
    )
    if signed_at is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=signed_at):
            signer.add_auth(request)
    prepared = request.prepare()
    return requests.post(prepared.url, data=prepared.body, headers=dict(prepared.headers), timeout=30)

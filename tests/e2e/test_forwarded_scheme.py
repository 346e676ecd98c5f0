"""On a live `berth serve` no client claims TLS it does not have: the server's
gunicorn believes no forwarded scheme itself (it would from 127.0.0.1 by default),
and Berth believes one only from BERTH_TRUSTED_PROXIES, which this server has none of."""

from __future__ import annotations

import pytest
import requests


@pytest.mark.parametrize(
    "claim", [{"X-Forwarded-Proto": "https"}, {"X-Forwarded-Ssl": "on"}, {"X-Forwarded-Protocol": "ssl"}]
)
def test_a_direct_client_cannot_claim_https(berth, claim):
    response = requests.get(f"{berth.url}/v2/", headers=claim, timeout=10)

    assert response.status_code == 401
    assert f'realm="http://{berth.host}/token"' in response.headers["WWW-Authenticate"]
    assert "Strict-Transport-Security" not in response.headers

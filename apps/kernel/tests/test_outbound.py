"""The outbound address guard's networks: the settings' by default, or the caller's
with exceptions it allows."""

from __future__ import annotations

import ipaddress
import socket

import pytest
import requests

from apps.kernel.outbound import AddressDenied, GuardedAdapter, denied_network

pytestmark = pytest.mark.database_independent


def test_the_settings_networks_by_default(settings):
    settings.BERTH_OUTBOUND_DENIED_NETWORKS = ["169.254.0.0/16"]
    assert denied_network("169.254.169.254") == ipaddress.ip_network("169.254.0.0/16")
    assert denied_network("::ffff:169.254.169.254") == ipaddress.ip_network("169.254.0.0/16")
    assert denied_network("127.0.0.1") is None


def test_given_networks_and_allowed_exceptions():
    denied = ("127.0.0.0/8", "10.0.0.0/8")
    assert denied_network("127.0.0.1", denied) == ipaddress.ip_network("127.0.0.0/8")
    assert denied_network("127.0.0.1", denied, ("127.0.0.1/32",)) is None
    assert denied_network("10.1.1.1", denied, ("127.0.0.1/32",)) == ipaddress.ip_network("10.0.0.0/8")


def test_an_adapter_refuses_its_own_networks_before_sending(settings):
    settings.BERTH_OUTBOUND_DENIED_NETWORKS = []
    session = requests.Session()
    session.mount("http://", GuardedAdapter(denied_networks=["127.0.0.0/8"], setting="TEST_SETTING"))
    # A listener that never answers: the refusal comes once the socket has connected.
    with socket.socket() as listener, pytest.raises(AddressDenied, match="TEST_SETTING"):
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        session.get(f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=5)

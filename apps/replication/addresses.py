"""Where the outbound client may connect.

Anyone with an account can point a pull-through cache rule or a replication
destination at a URL, and an upstream can redirect a blob download anywhere. So
the client never talks to an address in ``settings.BERTH_OUTBOUND_DENIED_NETWORKS``
(by default the link-local networks, where clouds serve instance credentials,
and the other clouds' metadata addresses). The address checked is the one the
socket connected to, after DNS, before a byte is sent (and before TLS), for every
request and every redirect: a name that resolves to a denied address, or changes
its answer between two looks, gets nowhere. An operator whose tenants should not
reach the private network either adds its ranges (``10.0.0.0/8``, ``127.0.0.0/8``...)."""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressDenied(Exception):
    """A connection to a denied address, closed before any byte went. Not an
    OSError, so that urllib3 and requests pass it on instead of retrying it as a
    failed connection."""

    def __init__(self, host: str, address: str, network: Network) -> None:
        self.host = host
        self.address = address
        self.network = network
        super().__init__(
            f"{host} is at {address}, in {network}, which Berth does not connect to (BERTH_OUTBOUND_DENIED_NETWORKS)"
        )


@functools.lru_cache(maxsize=8)
def _networks(texts: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(text, strict=False) for text in texts)


def denied_network(address: str) -> Network | None:
    """The denied network that holds ``address``, None when it may be reached."""
    ip = ipaddress.ip_address(address.partition("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for network in _networks(tuple(settings.BERTH_OUTBOUND_DENIED_NETWORKS)):
        if ip.version == network.version and ip in network:
            return network
    return None


def _checked(connection: HTTPConnection, sock):
    address = sock.getpeername()[0]
    network = denied_network(address)
    if network is not None:
        sock.close()
        raise AddressDenied(connection.host, address, network)
    return sock


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self):
        return _checked(self, super()._new_conn())


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self):
        return _checked(self, super()._new_conn())


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """requests' adapter whose connections check where they connected."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}

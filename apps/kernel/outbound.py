"""Where the outbound client may connect.

Anyone with an account can point a pull-through cache rule or a replication
destination at a URL, and an upstream can redirect a blob download anywhere. So
the client never talks to an address in ``settings.BERTH_OUTBOUND_DENIED_NETWORKS``
(by default the link-local networks, where clouds serve instance credentials,
and the other clouds' metadata addresses). The address checked is the one the
socket connected to, after DNS, before a byte is sent (and before TLS), for every
request and every redirect: a name that resolves to a denied address, or changes
its answer between two looks, gets nowhere. An operator whose tenants should not
reach the private network either adds its ranges (``10.0.0.0/8``, ``127.0.0.0/8``...).
A client with rules of its own (webhooks deny loopback and private networks too,
with networks staff allow) gives GuardedAdapter its own networks."""

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

    def __init__(
        self, host: str, address: str, network: Network, setting: str = "BERTH_OUTBOUND_DENIED_NETWORKS"
    ) -> None:
        self.host = host
        self.address = address
        self.network = network
        super().__init__(f"{host} is at {address}, in {network}, which Berth does not connect to ({setting})")


@functools.lru_cache(maxsize=32)
def networks(texts: tuple[str, ...]) -> tuple[Network, ...]:
    """The networks of ``texts`` ("10.0.0.0/8", "::1"), parsed once."""
    return tuple(ipaddress.ip_network(text.strip(), strict=False) for text in texts)


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(address.partition("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip


def _holding(ip, candidates: tuple[Network, ...]) -> Network | None:
    for network in candidates:
        if ip.version == network.version and ip in network:
            return network
    return None


def denied_network(
    address: str, denied: tuple[str, ...] | None = None, allowed: tuple[str, ...] = ()
) -> Network | None:
    """The network of ``denied`` (by default settings.BERTH_OUTBOUND_DENIED_NETWORKS)
    that holds ``address``, None when it may be reached: outside them all, or inside
    one of ``allowed`` (an operator's exception to the rule)."""
    ip = _ip(address)
    texts = tuple(settings.BERTH_OUTBOUND_DENIED_NETWORKS) if denied is None else tuple(denied)
    network = _holding(ip, networks(texts))
    if network is None or _holding(ip, networks(tuple(allowed))) is not None:
        return None
    return network


class GuardedAdapter(HTTPAdapter):
    """requests' adapter whose connections check where they connected: never an
    address in ``denied_networks`` (by default, read at each connection,
    settings.BERTH_OUTBOUND_DENIED_NETWORKS) unless it is in ``allowed_networks``.
    ``setting`` names what an operator changes, for the refusal's message."""

    def __init__(
        self,
        *,
        denied_networks: tuple[str, ...] | list[str] | None = None,
        allowed_networks: tuple[str, ...] | list[str] = (),
        setting: str = "BERTH_OUTBOUND_DENIED_NETWORKS",
        **kwargs,
    ) -> None:
        # Set before HTTPAdapter.__init__, which builds the pool manager.
        self.denied_networks = None if denied_networks is None else tuple(denied_networks)
        self.allowed_networks = tuple(allowed_networks)
        self.setting = setting
        super().__init__(**kwargs)

    def __getstate__(self):
        return {
            **super().__getstate__(),
            "denied_networks": self.denied_networks,
            "allowed_networks": self.allowed_networks,
            "setting": self.setting,
        }

    def _checked(self, connection: HTTPConnection, sock):
        address = sock.getpeername()[0]
        network = denied_network(address, self.denied_networks, self.allowed_networks)
        if network is not None:
            sock.close()
            raise AddressDenied(connection.host, address, network, self.setting)
        return sock

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        checked = self._checked

        class GuardedHTTPConnection(HTTPConnection):
            def _new_conn(self):
                return checked(self, super()._new_conn())

        class GuardedHTTPSConnection(HTTPSConnection):
            def _new_conn(self):
                return checked(self, super()._new_conn())

        class GuardedHTTPPool(HTTPConnectionPool):
            ConnectionCls = GuardedHTTPConnection

        class GuardedHTTPSPool(HTTPSConnectionPool):
            ConnectionCls = GuardedHTTPSConnection

        self.poolmanager.pool_classes_by_scheme = {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}

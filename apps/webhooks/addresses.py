"""Where a webhook may be delivered (no SSRF).

A tenant names the URL and Berth's workers make the request, so an endpoint must
not reach what only Berth can: loopback, the private networks (RFC 1918, IPv6
unique-local), link-local and the clouds' metadata addresses
(settings.BERTH_OUTBOUND_DENIED_NETWORKS), and the like. Staff open a network with
BERTH_WEBHOOK_ALLOWED_NETWORKS (a test receiver on 127.0.0.0/8, an intranet).

Checked twice: when an endpoint is created or changed (every address its host
resolves to, for a clear error at once) and on every delivery, on the address the
socket connected to (apps.kernel.outbound), since a name can resolve elsewhere later."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from django.conf import settings

from apps.kernel.outbound import GuardedAdapter, denied_network

from .exceptions import WebhookUrlInvalid

# Besides BERTH_OUTBOUND_DENIED_NETWORKS: what no tenant's webhook may reach by default.
WEBHOOK_DENIED_NETWORKS = (
    "0.0.0.0/8",  # "this host": connecting to 0.0.0.0 reaches loopback on Linux
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",  # carrier-grade NAT, where some clouds put internal services
    "169.254.0.0/16",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
)


def denied_networks() -> tuple[str, ...]:
    return WEBHOOK_DENIED_NETWORKS + tuple(settings.BERTH_OUTBOUND_DENIED_NETWORKS)


def allowed_networks() -> tuple[str, ...]:
    return tuple(settings.BERTH_WEBHOOK_ALLOWED_NETWORKS)


def adapter() -> GuardedAdapter:
    return GuardedAdapter(
        denied_networks=denied_networks(),
        allowed_networks=allowed_networks(),
        setting="webhooks reach no loopback, private or link-local address; staff may allow networks with "
        "BERTH_WEBHOOK_ALLOWED_NETWORKS",
    )


def check_url(url: str) -> str:
    """``url`` as given when Berth may deliver to it; WebhookUrlInvalid otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookUrlInvalid(url, f"not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookUrlInvalid(url, "the URL must start with https:// or http://")
    host = parts.hostname
    if not host:
        raise WebhookUrlInvalid(url, "the URL names no host")
    if parts.username or parts.password:
        raise WebhookUrlInvalid(url, "credentials in the URL are not accepted; verify the Berth-Signature instead")
    if parts.fragment:
        raise WebhookUrlInvalid(url, "the URL must not have a #fragment")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookUrlInvalid(url, f"the host {host} does not resolve ({exc})") from None
    denied, allowed = denied_networks(), allowed_networks()
    for *_, sockaddr in answers:
        network = denied_network(sockaddr[0], denied, allowed)
        if network is not None:
            raise WebhookUrlInvalid(
                url,
                f"the host {host} is at {sockaddr[0]}, in {network}: webhooks reach no loopback, private or "
                "link-local address unless staff allow it (BERTH_WEBHOOK_ALLOWED_NETWORKS)",
            )
    return url

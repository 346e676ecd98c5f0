"""The request context: the one client address (X-Forwarded-For believed only from
trusted proxies), the request id, and whose requests count together."""

from __future__ import annotations

from django.test import RequestFactory

from apps.kernel.requests import address_group, client_address, client_ip, request_context


def test_forwarded_for_is_believed_only_from_trusted_proxies(settings):
    settings.BERTH_TRUSTED_PROXIES = "10.0.0.0/8, 192.168.0.0/16"
    forwarded = "203.0.113.9, 198.51.100.20, 192.168.1.1"

    # from a client that is not a proxy the header is whatever it wants it to be: ignored
    assert client_address("198.51.100.7", forwarded) == "198.51.100.7"
    # right to left past the trusted hops: the first address not ours
    assert client_address("10.0.0.5", forwarded) == "198.51.100.20"
    assert client_address("10.0.0.5", "203.0.113.9") == "203.0.113.9"
    # every hop trusted: the farthest one
    assert client_address("10.0.0.5", "192.168.3.3, 10.9.9.9") == "192.168.3.3"
    # an unreadable entry stops the walk at the trusted hop that wrote it
    assert client_address("10.0.0.5", "203.0.113.9, garbage, 192.168.1.1") == "192.168.1.1"
    # ports and IPv4-mapped addresses are read as proxies write them
    assert client_address("::ffff:10.0.0.5", "203.0.113.9:4711") == "203.0.113.9"
    assert client_address("10.0.0.5", "[2001:db8::1]:443") == "2001:db8::1"
    settings.BERTH_TRUSTED_PROXIES = ""
    assert client_address("10.0.0.5", forwarded) == "10.0.0.5"


def test_a_request_that_passed_no_middleware_has_its_context_worked_out_once(settings):
    settings.BERTH_TRUSTED_PROXIES = "10.0.0.0/8"
    request = RequestFactory().get(
        "/v2/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9", HTTP_USER_AGENT="docker/27"
    )

    context = request_context(request)
    assert (context.client_ip, context.user_agent, context.request_id) == ("203.0.113.9", "docker/27", "")
    assert request_context(request) is context
    assert client_ip(request) == "203.0.113.9"


def test_addresses_count_together_per_ipv4_address_and_per_ipv6_64():
    assert address_group("192.0.2.66") == "192.0.2.66"
    assert address_group("::ffff:192.0.2.66") == "192.0.2.66"
    assert address_group("2001:db8:7:1::9") == address_group("2001:db8:7:1:ffff::1") == "2001:db8:7:1::/64"
    assert address_group("2001:db8:7:2::9") == "2001:db8:7:2::/64"
    assert address_group("") == ""
    assert address_group("not an address") == "not an address"

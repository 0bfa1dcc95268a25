"""``client_ip``: the client's address behind ``NUM_PROXIES`` trusted proxies, whatever the headers hold."""

from types import SimpleNamespace

import pytest

from commerce.core.client_ip import UNKNOWN, client_ip, client_ip_or_none

PROXY = "10.0.0.1"


@pytest.fixture
def proxies(settings):
    def set_proxies(count: int) -> None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": count}

    return set_proxies


def request(xff: str | None = None, remote: str | None = PROXY):
    meta = {}
    if remote is not None:
        meta["REMOTE_ADDR"] = remote
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return SimpleNamespace(META=meta)


def test_without_proxies_the_forwarded_header_is_ignored(proxies):
    proxies(0)
    assert client_ip(request("203.0.113.7", remote="198.51.100.2")) == "198.51.100.2"


@pytest.mark.parametrize(
    ("count", "xff", "expected"),
    [
        (1, "203.0.113.7", "203.0.113.7"),
        # Entries left of the trusted ones were written by the client: never believed.
        (1, "1.2.3.4, 203.0.113.7", "203.0.113.7"),
        (2, "1.2.3.4, 203.0.113.7, 10.0.0.9", "203.0.113.7"),
        # Fewer entries than proxies: the leftmost one (as DRF does).
        (3, "203.0.113.7, 10.0.0.9", "203.0.113.7"),
        (1, " 203.0.113.7 ,", "203.0.113.7"),
    ],
)
def test_behind_proxies_the_client_is_counted_from_the_right(proxies, count, xff, expected):
    proxies(count)
    assert client_ip(request(xff)) == expected


@pytest.mark.parametrize(
    ("xff", "expected"),
    [
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("203.0.113.7:51234", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
    ],
)
def test_addresses_are_normalised_so_one_client_has_one_key(proxies, xff, expected):
    proxies(1)
    assert client_ip(request(xff)) == expected


@pytest.mark.parametrize(
    "xff",
    ["", " , ", "garbage", "unknown", "_hidden", "203.0.113.300", "[2001:db8::1", "203.0.113.7:port", "1" * 200],
)
def test_a_forwarded_value_that_is_no_address_falls_back_to_the_proxy(proxies, xff):
    proxies(1)
    assert client_ip(request(xff)) == PROXY


def test_ipv6_remote_addr_is_normalised(proxies):
    proxies(0)
    assert client_ip(request(remote="2001:DB8::0:1")) == "2001:db8::1"


@pytest.mark.parametrize("remote", [None, "", "not-an-ip"])
def test_no_usable_address_is_unknown_or_none(proxies, remote):
    proxies(1)
    assert client_ip(request(None, remote=remote)) == UNKNOWN
    assert client_ip_or_none(request(None, remote=remote)) is None


def test_client_ip_or_none_passes_addresses_through(proxies):
    proxies(1)
    assert client_ip_or_none(request("203.0.113.7")) == "203.0.113.7"

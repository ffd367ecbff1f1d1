"""The webhook URL policy (node/webhooks/url_policy.py), without the network: names resolve through a
stand-in resolver, so every notation and range is judged exactly as a delivery would judge it."""

from __future__ import annotations

import ipaddress

import pytest

from node.core.errors import InvalidInput
from node.webhooks.url_policy import UrlPolicy, classify

PUBLIC = "93.184.216.34"


def _policy(*answers: str, allowed: frozenset[str] = frozenset(), http: bool = False) -> UrlPolicy:
    return UrlPolicy(allow_loopback_http=http, private_hosts=allowed, resolve=lambda _host: list(answers))


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.255.0.9", "10.0.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "100.127.255.254",
     "::1", "fc00::1", "fd12:3456::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:a00:1::",
     "192.0.2.1", "198.18.0.1", "240.0.0.1"],
)  # fmt: skip
def test_private_loopback_shared_and_special_addresses_need_the_operators_allowance(address: str) -> None:
    with pytest.raises(InvalidInput, match="private"):
        _policy(address).check("https://receiver.example/hook")
    allowed = _policy(address, allowed=frozenset({"receiver.example"})).check("https://receiver.example/hook")
    assert ipaddress.ip_address(allowed.address) == ipaddress.ip_address(address) and allowed.sni == "receiver.example"


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "100.100.100.200", "0.0.0.0", "::",
                "224.0.0.1", "ff02::1", "::ffff:169.254.169.254"],
)  # fmt: skip
def test_link_local_metadata_multicast_and_unspecified_are_never_allowed(address: str) -> None:
    with pytest.raises(InvalidInput, match="link-local"):
        _policy(address, allowed=frozenset({"receiver.example"})).check("https://receiver.example/hook")


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f000001", "0x7f.0.0.1", "0177.0.0.1", "127.1", "127.0.1", "10.1", "0", "1.2.3.04"]
)
def test_ipv4_in_any_notation_but_dotted_decimal_is_refused(host: str) -> None:
    with pytest.raises(InvalidInput, match="another notation"):
        _policy(PUBLIC, allowed=frozenset({host})).check(f"https://{host}/hook")


def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    with pytest.raises(InvalidInput, match="private"):
        _policy(PUBLIC, "10.0.0.1").check("https://mixed.example/hook")
    with pytest.raises(InvalidInput, match="does not resolve"):
        _policy().check("https://nothing.example/hook")


def test_the_destination_names_the_checked_address_and_keeps_the_host_for_host_header_and_sni() -> None:
    dest = _policy(PUBLIC).check("https://hooks.example:8443/p/a?x=1#frag")
    assert dest.url == f"https://{PUBLIC}:8443/p/a?x=1" and dest.host_header == "hooks.example:8443"
    assert dest.sni == "hooks.example" and dest.address == PUBLIC
    v6 = _policy("2606:4700::1").check("https://v6.example/h")
    assert v6.url == "https://[2606:4700::1]/h"
    literal = _policy().check(f"https://{PUBLIC}/h")
    assert literal.sni is None and literal.url == f"https://{PUBLIC}/h"


@pytest.mark.parametrize(
    "url",
    ["https://user@hooks.example/x", "https://user:pw@hooks.example/x", "https://hooks.example@10.0.0.1/x",
     "ftp://hooks.example/x", "https:///x", "https://hooks.example:99999/x", "https://metadata.google.internal/x"],
)  # fmt: skip
def test_user_info_other_schemes_bad_ports_and_metadata_names_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        _policy(PUBLIC).check(url)


def test_plain_http_only_to_an_allowed_loopback_host_when_the_operator_allows_it() -> None:
    loopback = frozenset({"127.0.0.1", "localhost"})
    assert _policy(http=True, allowed=loopback).check("http://127.0.0.1:9/x").url == "http://127.0.0.1:9/x"
    assert _policy("127.0.0.1", http=True, allowed=loopback).check("http://localhost:9/x").sni is None
    with pytest.raises(InvalidInput, match="private"):
        _policy(http=True).check("http://127.0.0.1:9/x")  # http allowed, the loopback host is not
    with pytest.raises(InvalidInput, match="https"):
        _policy(allowed=loopback).check("http://127.0.0.1:9/x")  # the host allowed, plain http is not
    with pytest.raises(InvalidInput, match="https"):
        _policy(PUBLIC, http=True).check("http://hooks.example/x")


def test_public_addresses_are_public() -> None:
    assert classify(ipaddress.ip_address(PUBLIC)) is None
    assert classify(ipaddress.ip_address("2606:4700::1")) is None

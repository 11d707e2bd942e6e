"""The client a sign-in attempt is counted against: one per IPv4 address or IPv6 /64,
whatever port a proxy writes beside it."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from thedata.application.password_attempts import client_of

PORTS = st.integers(min_value=0, max_value=65535)


@given(address=st.ip_addresses(v=4), port=PORTS)
def test_an_ipv4_address_with_a_port_is_the_address(
    address: ipaddress.IPv4Address, port: int
) -> None:
    assert client_of(f"{address}:{port}") == client_of(str(address)) == str(address)


@given(address=st.ip_addresses(v=6), port=PORTS)
def test_a_bracketed_ipv6_address_with_a_port_is_its_slash_64(
    address: ipaddress.IPv6Address, port: int
) -> None:
    expected = client_of(str(address))
    assert client_of(f"[{address}]:{port}") == expected
    assert client_of(f"[{address}]") == expected


def test_the_same_host_behind_a_proxy_is_one_client_on_every_connection() -> None:
    assert client_of("203.0.113.9:50123") == client_of("203.0.113.9:50124") == "203.0.113.9"
    assert client_of("[2001:db8::1]:443") == "2001:db8::/64"


def test_what_is_not_an_address_is_taken_as_it_is() -> None:
    assert client_of("testclient") == "testclient"

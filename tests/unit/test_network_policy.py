"""Where connectors may connect: judged on resolved addresses, never by dialing them.

Every name here resolves through a fake resolver: no test sends a packet, not
even a DNS query.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

import pytest

from thedata.adapters.connectors import NetworkPolicy, ascii_host
from thedata.adapters.connectors.network import Resolver
from thedata.application.errors import ConnectorFailed, ConnectorMisconfigured


def resolving(table: dict[str, Sequence[str]]) -> Resolver:
    """A resolver answering from ``table``; an unknown name does not exist (NXDOMAIN)."""

    async def resolve(host: str, _port: int) -> Sequence[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


def policy(allow_private: bool, **names: Sequence[str]) -> NetworkPolicy:
    return NetworkPolicy(allow_private=allow_private, resolver=resolving(names))


METADATA_AND_LINK_LOCAL = [
    "169.254.169.254",
    "169.254.0.1",
    "100.100.100.200",  # Alibaba Cloud's metadata, inside 100.64.0.0/10
    "168.63.129.16",  # Azure's wire server
    "fd00:ec2::254",
    "fe80::1",
    "::ffff:169.254.169.254",  # IPv4-mapped
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
]


@pytest.mark.parametrize("address", METADATA_AND_LINK_LOCAL)
@pytest.mark.parametrize("allow_private", [True, False])
async def test_link_local_and_metadata_addresses_are_never_allowed(
    address: str, allow_private: bool
) -> None:
    """Whatever the setting, and however the address is spelt, the metadata service is out."""
    with pytest.raises(ConnectorMisconfigured, match="never reachable"):
        await policy(allow_private).resolve(address, 5432)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.10", "172.16.0.1", "::1", "fd12::1", "100.64.0.1"],
)
async def test_private_and_shared_addresses_follow_the_setting(address: str) -> None:
    """Loopback, private and carrier-grade NAT (100.64/10) are reachable only if allowed."""
    assert await policy(True).resolve(address, 5432) == address
    with pytest.raises(ConnectorMisconfigured, match="not reachable"):
        await policy(False).resolve(address, 5432)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "224.0.0.1", "240.0.0.1", "255.255.255.255"])
async def test_addresses_that_are_no_host_are_refused(address: str) -> None:
    """Unspecified, multicast and reserved addresses are never a data source."""
    with pytest.raises(ConnectorMisconfigured, match="not a host address"):
        await policy(True).resolve(address, 5432)


async def test_a_global_address_is_allowed_by_default() -> None:
    """The multi-tenant default lets connectors reach the internet, and only that."""
    assert NetworkPolicy().allow_private is False
    assert await policy(False).resolve("8.8.8.8", 5432) == "8.8.8.8"
    assert await policy(False).resolve("2001:4860:4860::8888", 5432) == "2001:4860:4860::8888"


async def test_a_name_is_judged_by_what_it_resolves_to() -> None:
    """A name is not trusted for being a name: its addresses decide, the first allowed wins."""
    names = {"db.example.com": ["10.0.0.5", "93.184.216.34"], "inside.example.com": ["10.0.0.5"]}
    assert await policy(False, **names).resolve("db.example.com", 5432) == "93.184.216.34"
    assert await policy(True, **names).resolve("db.example.com", 5432) == "10.0.0.5"
    with pytest.raises(ConnectorMisconfigured):
        await policy(False, **names).resolve("inside.example.com", 5432)


async def test_a_blocked_name_and_a_missing_one_look_the_same() -> None:
    """Without private networks, a tenant cannot tell an internal name from no name at all."""
    names = {"inside.example.com": ["10.0.0.5"]}
    with pytest.raises(ConnectorMisconfigured) as blocked:
        await policy(False, **names).resolve("inside.example.com", 5432)
    with pytest.raises(ConnectorMisconfigured) as missing:
        await policy(False, **names).resolve("nothing.example.com", 5432)
    assert str(blocked.value) == str(missing.value)
    assert "10.0.0.5" not in str(blocked.value)
    assert blocked.value.errors[0].field == "/config/host"


async def test_dns_that_does_not_answer_now_is_a_transient_failure() -> None:
    """A resolver timeout is 503-worthy (retry later), not a configuration error."""

    async def timing_out(_host: str, _port: int) -> Sequence[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    with pytest.raises(ConnectorFailed, match="could not be resolved now"):
        await NetworkPolicy(resolver=timing_out).resolve("db.example.com", 5432)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("db.example.com", "db.example.com"),
        ("DB.Example.com.", "DB.Example.com."),
        ("bücher.example", "xn--bcher-kva.example"),
        ("10.0.0.1", "10.0.0.1"),
        ("::1", "::1"),
        ("my_host-1", "my_host-1"),
    ],
)
def test_hosts_become_what_dns_and_libpq_take(host: str, expected: str) -> None:
    """IP literals stay, names are IDNA-encoded."""
    assert ascii_host(host) == expected


@pytest.mark.parametrize(
    "host", ["a..b", "x" * 64 + ".com", ".", "a,b", "a:b", "-a.com", "a" * 254, "a b", 'a"b']
)
def test_hosts_no_resolver_would_take_are_refused_with_a_reason(host: str) -> None:
    """Empty labels, labels over 63 octets, odd characters: a ValueError, never a crash."""
    with pytest.raises(ValueError, match="not a valid host name"):
        ascii_host(host)


@pytest.mark.parametrize(
    "host", ["1.2.3", "2130706433", "0x7f.1", "127.1", "0177.0.0.1", "10.0.0.1."]
)
def test_numeric_shorthands_of_addresses_are_refused(host: str) -> None:
    """What a resolver reads as an IPv4 address in shorthand (``1.2.3`` is 1.2.0.3) is not a
    name: refused, so that a host means what it says (no top-level domain is numeric)."""
    with pytest.raises(ValueError, match="four decimal numbers"):
        ascii_host(host)

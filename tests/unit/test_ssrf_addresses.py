"""Server-side request forgery (OWASP API7): every address class, however it is spelt,
judged on what it resolves to, without a packet leaving this machine.

The expected verdicts come from the IANA special-purpose address registries (RFC 6890
and its updates), not from ``ipaddress``: the policy under test leans on that module, so
its answers cannot be the oracle. Three verdicts:

- GLOBAL: reachable whatever the setting;
- PRIVATE: loopback, private and shared space, reachable only where the deployment allows
  private networks (a single-user install), never in the multi-tenant default;
- NEVER: link-local, cloud metadata, and what is no host (unspecified, multicast,
  broadcast, reserved) — refused whatever the setting.

IPv6 forms that carry an IPv4 address are built here from their RFCs' bit layouts and
must get the verdict of the IPv4 address they carry. Tests do not hit ``test_network_policy``'s
cases again one by one; they sweep the classes it samples.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence

import pytest

from thedata.adapters.connectors import NetworkPolicy, ascii_host
from thedata.adapters.connectors.network import Resolver
from thedata.application.errors import ConnectorMisconfigured

GLOBAL, PRIVATE, NEVER = "global", "private", "never"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection or system lookup fails the test: the policy judges, it never dials."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the network policy touched the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", refuse)
    monkeypatch.setattr(asyncio.BaseEventLoop, "sock_connect", refuse)


# --- IPv6 forms carrying an IPv4 address, built from their RFCs -------------------------


def v4(address: str) -> int:
    return int(ipaddress.IPv4Address(address))


def v6(number: int) -> str:
    return str(ipaddress.IPv6Address(number))


def mapped(address: str) -> str:
    """RFC 4291 §2.5.5.2: ::ffff:a.b.c.d."""
    return v6(0xFFFF << 32 | v4(address))


def compatible(address: str) -> str:
    """RFC 4291 §2.5.5.1 (deprecated): ::a.b.c.d."""
    return v6(v4(address))


def six_to_four(address: str) -> str:
    """RFC 3056 §2: 2002:a.b.c.d::/48, here with host ::1."""
    return v6(0x2002 << 112 | v4(address) << 80 | 1)


def teredo(client: str, server: str = "65.54.227.120") -> str:
    """RFC 4380 §4: 2001:0:<server>:<flags>:<port ^ ffff>:<client ^ ffffffff>."""
    port = 40000
    return v6(
        0x2001_0000 << 96
        | v4(server) << 64
        | 0x8000 << 48
        | (port ^ 0xFFFF) << 32
        | (v4(client) ^ 0xFFFFFFFF)
    )


def translated(address: str) -> str:
    """RFC 2765 §2.1 (SIIT): ::ffff:0:a.b.c.d."""
    return v6(0xFFFF << 48 | v4(address))


def nat64(address: str) -> str:
    """RFC 6052 §2.1: the well-known prefix 64:ff9b::/96."""
    return v6(0x0064_FF9B << 96 | v4(address))


def local_nat64(address: str) -> str:
    """RFC 8215: the local-use prefix 64:ff9b:1::/48, with a /96 as operators deploy it."""
    return v6((0x0064_FF9B_0001 << 80) | v4(address))


# --- the table ---------------------------------------------------------------------------

IPV4: list[tuple[str, str, str]] = [
    ("8.8.8.8", GLOBAL, "a public resolver"),
    ("93.184.216.34", GLOBAL, "a public web server"),
    ("127.0.0.1", PRIVATE, "loopback, RFC 1122"),
    ("127.255.255.254", PRIVATE, "loopback, the end of 127/8"),
    ("10.0.0.1", PRIVATE, "RFC 1918"),
    ("172.16.0.1", PRIVATE, "RFC 1918"),
    ("172.31.255.254", PRIVATE, "RFC 1918, the end of 172.16/12"),
    ("192.168.1.1", PRIVATE, "RFC 1918"),
    ("100.64.0.1", PRIVATE, "shared (CGNAT), RFC 6598"),
    ("100.127.255.254", PRIVATE, "shared (CGNAT), the end of 100.64/10"),
    ("169.254.169.254", NEVER, "link-local, RFC 3927: the cloud metadata service"),
    ("169.254.0.1", NEVER, "link-local"),
    ("168.63.129.16", NEVER, "Azure's wire server"),
    ("100.100.100.200", NEVER, "Alibaba Cloud's metadata"),
    ("0.0.0.0", NEVER, "unspecified; Linux dials it as this host"),
    ("224.0.0.1", NEVER, "multicast, RFC 5771"),
    ("239.255.255.250", NEVER, "multicast (SSDP)"),
    ("255.255.255.255", NEVER, "limited broadcast, RFC 919"),
    ("240.0.0.1", NEVER, "reserved, RFC 1112"),
    ("192.0.2.1", NEVER, "documentation (TEST-NET-1), RFC 5737"),
    ("203.0.113.7", NEVER, "documentation (TEST-NET-3), RFC 5737"),
]

IPV6: list[tuple[str, str, str]] = [
    ("2001:4860:4860::8888", GLOBAL, "a public resolver"),
    ("2606:4700:4700::1111", GLOBAL, "a public resolver"),
    ("::1", PRIVATE, "loopback, RFC 4291"),
    ("0:0:0:0:0:0:0:1", PRIVATE, "loopback, spelt out"),
    ("fc00::1", PRIVATE, "unique local, RFC 4193"),
    ("fd12:3456:789a::1", PRIVATE, "unique local"),
    ("fe80::1", NEVER, "link-local, RFC 4291"),
    ("FE80::1", NEVER, "link-local, upper case"),
    ("fe80::1%eth0", NEVER, "link-local with a zone"),
    ("febf:ffff::1", NEVER, "link-local, the end of fe80::/10"),
    ("fd00:ec2::254", NEVER, "AWS metadata over IPv6"),
    ("::", NEVER, "unspecified"),
    ("ff02::1", NEVER, "multicast, all nodes"),
    ("ff05::2", NEVER, "multicast, site scope"),
    ("4000::1", NEVER, "reserved by the IETF, outside global unicast 2000::/3"),
    ("5f00::1", NEVER, "SRv6 segment identifiers, RFC 9602: no host"),
    ("100:0:0:1::1", NEVER, "discard-only, RFC 6666"),
    ("2001:db8::1", NEVER, "documentation, RFC 3849"),
    ("3fff::1", NEVER, "documentation, RFC 9637"),
]

SITE_LOCAL: list[tuple[str, str, str]] = [
    # RFC 3879 deprecated fec0::/10, but routers and hosts configured with it still route
    # it inside a site, as they did private space: it is no global address
    ("fec0::1", PRIVATE, "site-local, RFC 3513"),
]

# Each class again inside every IPv6 form that carries an IPv4 address.
CARRIERS: dict[str, Callable[[str], str]] = {
    "mapped": mapped,
    "6to4": six_to_four,
    "teredo": teredo,
    "nat64": nat64,
    "translated": translated,
    "local-use nat64": local_nat64,
}
CARRIED = [
    (carry(address), verdict, f"{name} of {address}")
    for name, carry in CARRIERS.items()
    for address, verdict in [
        ("8.8.8.8", GLOBAL),
        ("127.0.0.1", PRIVATE),
        ("10.0.0.1", PRIVATE),
        ("100.64.0.1", PRIVATE),
        ("169.254.169.254", NEVER),
        ("100.100.100.200", NEVER),
    ]
]
# A deprecated form: it still carries an IPv4 address that a tunnel may deliver to.
COMPATIBLE = [
    (compatible(a), v, f"IPv4-compatible of {a}")
    for a, v in [("127.0.0.1", PRIVATE), ("10.0.0.1", PRIVATE), ("169.254.169.254", NEVER)]
]


def cases() -> list[object]:
    """Every row of the table, named by its address and its class."""
    table = IPV4 + IPV6 + CARRIED + COMPATIBLE + SITE_LOCAL
    return [pytest.param(a, v, id=f"{a} ({why})") for a, v, why in table]


# --- resolvers that never resolve --------------------------------------------------------


def resolving(table: Mapping[str, Sequence[str]], asked: list[str] | None = None) -> Resolver:
    """A resolver answering from ``table`` (unknown names do not exist), noting each
    question in ``asked``."""

    async def resolve(host: str, _port: int) -> Sequence[str]:
        if asked is not None:
            asked.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


async def verdict_of(host: str, table: Mapping[str, Sequence[str]] | None = None) -> str:
    """GLOBAL, PRIVATE or NEVER: what the policy makes of ``host`` under both settings."""
    results = []
    for allow_private in (False, True):
        policy = NetworkPolicy(allow_private=allow_private, resolver=resolving(table or {}))
        try:
            await policy.resolve(host, 5432)
        except ConnectorMisconfigured:
            results.append(False)
        else:
            results.append(True)
    return {(True, True): GLOBAL, (False, True): PRIVATE, (False, False): NEVER}[
        (results[0], results[1])
    ]


@pytest.mark.parametrize(("address", "expected"), cases())
async def test_an_address_literal_gets_its_class_verdict(address: str, expected: str) -> None:
    """Given as the host itself: allowed, allowed only with private networks, or never."""
    assert await verdict_of(address) == expected


@pytest.mark.parametrize(("address", "expected"), cases())
async def test_a_name_gets_the_verdict_of_what_it_resolves_to(address: str, expected: str) -> None:
    """A name is judged after resolution: a harmless name for a blocked address is blocked
    (DNS is the attacker's to write)."""
    assert await verdict_of("innocent.example.com", {"innocent.example.com": [address]}) == expected


# inet_aton reads what glibc's resolver reads as an IPv4 address: the oracle of spellings.
SPELLINGS_OF_LOOPBACK = [
    "2130706433",  # one decimal number
    "0x7f000001",  # one hexadecimal number
    "0X7F000001",
    "017700000001",  # one octal number
    "0177.0.0.1",  # octal parts
    "0x7f.0x0.0x0.0x1",  # hexadecimal parts
    "127.1",  # a.b shorthand
    "127.0.1",  # a.b.c shorthand
    "0x7f.1",
]
SPELLINGS_OF_METADATA = ["2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518"]


def as_system_resolves(host: str) -> list[str]:
    """What the C library makes of a numeric spelling (parsed locally; nothing is sent)."""
    return [socket.inet_ntoa(socket.inet_aton(host))]


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [(s, PRIVATE) for s in SPELLINGS_OF_LOOPBACK] + [(s, NEVER) for s in SPELLINGS_OF_METADATA],
)
async def test_numeric_spellings_are_judged_as_the_address_they_spell(
    spelling: str, expected: str
) -> None:
    """Should a spelling get past config validation, the resolver still turns it into the
    address, and the address is judged; config validation refuses them anyway."""
    assert await verdict_of(spelling, {spelling: as_system_resolves(spelling)}) == expected
    with pytest.raises(ValueError, match="four decimal numbers"):
        ascii_host(spelling)


@pytest.mark.parametrize(
    ("name", "addresses", "expected"),
    [
        ("localhost.", ["127.0.0.1", "::1"], PRIVATE),
        ("localhost", ["::1"], PRIVATE),
        ("metadata.google.internal.", ["169.254.169.254"], NEVER),
        ("db.example.com.", ["93.184.216.34"], GLOBAL),
        ("mapped.example.com.", ["::ffff:169.254.169.254"], NEVER),
        ("zoned.example.com", ["fe80::1%2"], NEVER),
        ("every-blocked.example.com", ["127.0.0.1", "169.254.169.254", "::", "ff02::1"], PRIVATE),
    ],
)
async def test_names_with_a_trailing_dot_or_odd_answers_are_judged_on_their_addresses(
    name: str, addresses: list[str], expected: str
) -> None:
    """A fully qualified name (trailing dot) is the same name; zones and mapped answers
    are judged like literals."""
    assert await verdict_of(name, {name: addresses}) == expected


async def test_a_name_is_resolved_once_and_the_connection_pinned_to_that_answer() -> None:
    """DNS rebinding: the address judged is the address returned for connecting, and the
    resolver is asked once, so a second, different answer cannot be what is dialled."""
    asked: list[str] = []
    policy = NetworkPolicy(
        allow_private=False,
        resolver=resolving({"rebind.example.com": ["93.184.216.34", "127.0.0.1"]}, asked),
    )
    assert await policy.resolve("rebind.example.com", 5432) == "93.184.216.34"
    assert asked == ["rebind.example.com"]


@pytest.mark.parametrize(
    "address", [a for a, verdict, _ in IPV4 + IPV6 + CARRIED if verdict != GLOBAL]
)
async def test_a_refusal_never_names_the_blocked_address(address: str) -> None:
    """A tenant learns no internal address from the message (it would map the network)."""
    policy = NetworkPolicy(resolver=resolving({"inside.example.com": [address]}))
    with pytest.raises(ConnectorMisconfigured) as refused:
        await policy.resolve("inside.example.com", 5432)
    assert address not in str(refused.value)
    assert all(address not in error.message for error in refused.value.errors)

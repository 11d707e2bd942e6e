"""Which addresses connectors may reach, judged on the resolved address before connecting.

Only globally routable addresses are allowed unless the deployment allows private
networks; link-local and cloud metadata addresses never are. IPv6 forms that carry
an IPv4 address (mapped, 6to4, Teredo, NAT64) are judged by that IPv4 address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence

from attrs import field, frozen

from thedata.application.errors import ConnectorFailed, ConnectorMisconfigured
from thedata.domain.errors import FieldError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""(ASCII host name, port) -> the addresses it resolves to; raises ``socket.gaierror``."""

# Cloud metadata services; no deployment has a reason to let a tenant reach them.
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure's wire server (a public address)
        "fd00:ec2::254",  # AWS over IPv6
    )
)
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# RFC 8215: NAT64 within one's own network, deployed as /96s under this /48 (IPv4 last)
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
# RFC 4291 2.5.5.1, deprecated: ::a.b.c.d, which an automatic tunnel may still deliver
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# RFC 2765 (SIIT): ::ffff:0:a.b.c.d, what a stateless translator delivers to a.b.c.d
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
# IPv6 hosts on the internet have addresses in 2000::/3 only (RFC 4291 2.4); what
# ``ipaddress`` calls global outside it (4000::/3, SRv6's 5f00::/16) is no host of ours
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
# Documentation ranges name no host anywhere (RFC 5737, 3849, 9637)
_DOCUMENTATION = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20")
)

NEVER = "link-local and cloud metadata addresses are never reachable"
NOT_A_HOST = "not a host address (unspecified, multicast or reserved)"
PRIVATE = "loopback, private and shared (100.64.0.0/10) addresses are not reachable on this server"


def embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, translated, 6to4,
    Teredo, NAT64 and local-use NAT64), else itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address; the server part is public
    if address in _NAT64 or address in _LOCAL_NAT64 or address in _IPV4_TRANSLATED:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # not :: nor ::1
        return ipaddress.IPv4Address(int(address))
    return address


def blocked_reason(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why connectors may not reach ``address`` (``None``: they may)."""
    # site-local is deprecated, but a network may still route it: never global
    local = isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    address = embedded_ipv4(address)
    if address in _METADATA or any(address in network for network in _LINK_LOCAL):
        return NEVER
    if address.is_unspecified or address.is_multicast:
        return NOT_A_HOST
    if any(address in network for network in _DOCUMENTATION):
        return NOT_A_HOST
    unicast = not isinstance(address, ipaddress.IPv6Address) or address in _GLOBAL_UNICAST
    if address.is_global and unicast and not local:
        return None
    if address.is_reserved and not address.is_loopback:  # ::1 lies in the reserved ::/8
        return NOT_A_HOST
    return None if allow_private else PRIVATE


_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?$")


_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$", re.IGNORECASE)


def ascii_host(host: str) -> str:
    """``host`` as DNS and libpq take it: an IP literal, or an IDNA-encoded name.

    ``ValueError`` (with the reason) for what no resolver would accept: empty
    labels (``a..b``), labels over 63 octets, names over 253, odd characters.
    """
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(
            "is not a valid host name (an empty label, or a label longer than 63 characters)"
        ) from None
    name = encoded.removesuffix(".")
    if _NUMERIC_LABEL.match(name.rsplit(".", 1)[-1]):
        # resolvers read these as IPv4 shorthand (1.2.3 is 1.2.0.3); no top-level domain is
        # numeric, so a host like this never means a name
        raise ValueError(
            "is not a valid host name; write an IPv4 address as four decimal numbers "
            "(like 192.0.2.1)"
        )
    if not name or len(name) > 253:
        raise ValueError("is not a valid host name (1 to 253 characters)")
    if not all(_LABEL.match(label) and len(label) <= 63 for label in name.split(".")):
        raise ValueError("is not a valid host name (labels of 1 to 63 letters, digits, '-' or '_')")
    return encoded


def host_problems(host: str) -> list[FieldError]:
    """``/host`` with the reason when ``host`` is not a name or address; none when it is."""
    try:
        ascii_host(host)
    except ValueError as e:
        return [FieldError("/host", str(e))]
    return []


async def _system_resolver(host: str, port: int) -> Sequence[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(sockaddr[0]) for *_, sockaddr in infos]


@frozen
class NetworkPolicy:
    """Where connectors may connect. ``allow_private`` lets them reach loopback and private
    networks (a single-user install); off, only global addresses (multi-tenant)."""

    allow_private: bool = False
    resolver: Resolver = field(default=_system_resolver, repr=False)

    def judge(self, address: str) -> str | None:
        """Why connectors may not reach ``address`` (``None``: they may)."""
        return blocked_reason(
            ipaddress.ip_address(address.split("%", 1)[0]), allow_private=self.allow_private
        )

    async def resolve(self, host: str, port: int) -> str:
        """An allowed address of ``host`` (ASCII, see ``ascii_host``) to connect to.

        The connection goes to this address, so DNS cannot change it afterwards.
        ``ConnectorMisconfigured`` when the name does not exist or every address
        it has is blocked: for names, one message for both, so that a tenant
        cannot map internal names; ``ConnectorFailed`` when DNS does not answer now.
        """
        literal = _literal(host)
        if literal is not None:
            reason = self.judge(literal)
            if reason is not None:
                raise ConnectorMisconfigured(
                    f"the host is not reachable from this server: {reason}",
                    [FieldError("/config/host", reason)],
                )
            return literal
        try:
            addresses = await self.resolver(host, port)
        except socket.gaierror as e:
            if e.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", None)):
                raise ConnectorFailed("the host name could not be resolved now") from None
            addresses = []
        except (OSError, UnicodeError):
            addresses = []
        for address in addresses:
            if self.judge(address) is None:
                return address.split("%", 1)[0]
        hint = PRIVATE if not self.allow_private else NEVER
        message = f"the host name does not resolve to an address this server may reach ({hint})"
        raise ConnectorMisconfigured(message, [FieldError("/config/host", message)])


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None

"""Which addresses connectors may reach, checked on the resolved address at connect time."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from attrs import frozen

from thedata.application.errors import ConnectorFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services live here; no deployment has a reason to let a tenant reach them.
_ALWAYS_BLOCKED = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS's IPv6 metadata address
)


def _blocked_reason(address: IPAddress, *, allow_private: bool) -> str | None:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:169.254.169.254 is 169.254.169.254
        address = mapped
    if any(address in network for network in _ALWAYS_BLOCKED):
        return "link-local and cloud metadata addresses are never reachable"
    if address.is_unspecified or address.is_multicast:
        return "not a host address"
    if address.is_loopback or address.is_private:
        return (
            None if allow_private else "loopback and private addresses are blocked on this server"
        )
    if address.is_reserved:
        return "not a routable host address"
    return None


@frozen
class NetworkPolicy:
    """Link-local and metadata addresses are always refused; loopback and private ones only
    when ``allow_private`` is off (multi-tenant deployments)."""

    allow_private: bool = True

    async def resolve(self, host: str, port: int) -> str:
        """An allowed address of ``host`` to connect to, so DNS cannot change it afterwards."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as e:
            raise ConnectorFailed(f"cannot resolve {host!r}: {e.strerror or e}") from None
        reasons = []
        for *_, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            reason = _blocked_reason(address, allow_private=self.allow_private)
            if reason is None:
                return str(address)
            reasons.append(f"{address}: {reason}")
        raise ConnectorFailed(f"{host!r} resolves to no allowed address ({'; '.join(reasons)})")

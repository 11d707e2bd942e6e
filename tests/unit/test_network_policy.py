"""Where connectors may connect: checked on the address a name resolves to."""

from __future__ import annotations

import pytest

from thedata.adapters.connectors import NetworkPolicy
from thedata.application.errors import ConnectorFailed


@pytest.mark.parametrize(
    "host", ["169.254.169.254", "169.254.0.1", "fe80::1", "::ffff:169.254.169.254", "0.0.0.0"]
)
async def test_link_local_and_metadata_addresses_are_never_allowed(host: str) -> None:
    """Even with private networks allowed, the metadata service is out of reach."""
    with pytest.raises(ConnectorFailed, match="no allowed address"):
        await NetworkPolicy(allow_private=True).resolve(host, 5432)


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "::1", "localhost"])
async def test_private_addresses_follow_the_setting(host: str) -> None:
    """Loopback and private ranges are reachable unless the deployment blocks them."""
    assert await NetworkPolicy(allow_private=True).resolve(host, 5432)
    with pytest.raises(ConnectorFailed, match="blocked on this server"):
        await NetworkPolicy(allow_private=False).resolve(host, 5432)


async def test_a_name_is_judged_by_what_it_resolves_to() -> None:
    """'localhost' is refused for being loopback, not passed for being a name."""
    with pytest.raises(ConnectorFailed, match="'localhost' resolves to no allowed address"):
        await NetworkPolicy(allow_private=False).resolve("localhost", 5432)


async def test_an_unknown_name_is_a_clear_failure() -> None:
    """A name that does not resolve fails the check with a message, not a crash."""
    with pytest.raises(ConnectorFailed, match="cannot resolve"):
        await NetworkPolicy().resolve("no-such-host.invalid", 5432)

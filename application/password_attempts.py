"""Online password guessing: the counters each password check counts on, and what forgives them.

Every check of a password (sign-in, and the current password of a password
change) counts on three counters, each over ``IdentityPolicy.login_window``:

- the account *from this client address*, at ``login_attempt_limit`` (10): the
  counter a guesser meets first. It closes the account to that address only,
  so a victim signing in from elsewhere, and a colleague behind the same NAT
  signing in to another account, are not locked out by someone's guessing.
- the account *from every address*, at ``login_account_limit`` (50): bounds
  guessing spread over many addresses (a botnet) to that many per window.
  Reaching it closes the account to new clients for the rest of the window,
  but not to a *known* client: one the right password came from within
  ``known_client_ttl`` (30 days). A guesser cannot become known without the
  password, so the bound holds, and someone who spreads guesses just to lock
  a person out cannot lock them out of the places they sign in from (a known
  client's own pair counter still applies).
- the client address *over every account*, at ``login_address_limit`` (100):
  bounds password spraying (one common password against many accounts) from
  one address. Ten times the per-account allowance, so an office behind one
  NAT address shares it without noticing; an IPv6 client counts by its /64,
  which one host holds in full.

An attempt is counted before the password is checked, on all three counters
or, when one of them is at its limit, on none: a refused attempt checks no
password, so it has taught the guesser nothing and must not push the wider
counters towards closing the account for everyone. A success clears the
account's counters (the guesser cannot produce one without the password) and
uncounts only its own attempt on the address (anyone can sign in to an account
of their own, and that must not reset a spraying count).
"""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import datetime

from attrs import frozen

from thedata.application.identity_policy import IdentityPolicy
from thedata.application.ports import UnitOfWork
from thedata.domain.tokens import TooManyLoginAttempts

# One host holds a whole IPv6 /64 (SLAAC, privacy addresses): it is one client.
_IPV6_CLIENT_PREFIX = 64


def client_of(address: str) -> str:
    """The client an address stands for: an IPv4 address itself, an IPv6 address its /64,
    without the port some proxies write beside it (else each connection of one host would
    be a client of its own, under no limit)."""
    try:
        parsed = ipaddress.ip_address(_without_port(address.strip()))
    except ValueError:
        return address  # not an address (a test client, a proxy's odd header): taken as is
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{_IPV6_CLIENT_PREFIX}", strict=False))
    return str(parsed)


def _without_port(address: str) -> str:
    """``203.0.113.9:4711`` and ``[2001:db8::1]:443`` without their ports; anything else
    (a bare IPv6 address has colons of its own) as it is."""
    if address.startswith("["):
        host, bracket, _ = address[1:].partition("]")
        return host if bracket else address
    host, colon, port = address.rpartition(":")
    return host if colon and ":" not in host and port.isdigit() else address


def _hashed(kind: str, *parts: str) -> str:
    # hashed so the table holds no emails or addresses; NUL cannot occur in either
    return kind + ":" + hashlib.sha256("\0".join(parts).encode()).hexdigest()


@frozen
class PasswordAttempt:
    """The counters one check of an account's password, from one client, counts on."""

    account_from_client: str
    account: str
    client: str
    known_client: str
    """Present (in the store of known clients) once the right password came from the client."""

    @classmethod
    def of(cls, email: str, client_address: str) -> PasswordAttempt:
        """The counters for the normalized ``email`` tried from ``client_address``."""
        client = client_of(client_address)
        return cls(
            _hashed("pair", email, client),
            _hashed("account", email),
            _hashed("address", client),
            _hashed("known", email, client),
        )

    async def register(self, uow: UnitOfWork, now: datetime, policy: IdentityPolicy) -> None:
        """Count the attempt in ``uow``; ``TooManyLoginAttempts`` (counted nowhere) if over."""
        limits = {
            self.account_from_client: policy.login_attempt_limit,
            self.account: policy.login_account_limit,
            self.client: policy.login_address_limit,
        }
        if await uow.login_throttle.known(self.known_client, now):
            del limits[self.account]
        wait = await uow.login_throttle.register_attempt(limits, now, policy.login_window)
        if wait is not None:
            seconds = max(1, int(wait.total_seconds() + 0.999))
            raise TooManyLoginAttempts(
                f"too many failed password attempts; try again in {seconds} s",
                retry_after=seconds,
            )

    async def forgive(self, uow: UnitOfWork, now: datetime, policy: IdentityPolicy) -> None:
        """The password was right: clear the account's counters, uncount this one on the client,
        and know the client from now on."""
        await uow.login_throttle.forgive(
            [self.client], clear=[self.account_from_client, self.account]
        )
        await uow.login_throttle.remember(self.known_client, now + policy.known_client_ttl)

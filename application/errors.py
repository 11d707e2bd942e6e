"""Errors the application raises about the world it depends on, not about the business."""

from __future__ import annotations

from thedata.domain.errors import Conflict, DomainError, InvalidInput


class DependencyUnavailable(DomainError):
    """A system the use case needs (database, secret store, ...) cannot answer now.

    Callers may retry later; ``retry_after`` (seconds) is a hint for them.
    """

    code = "dependency_unavailable"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DatabaseUnavailable(DependencyUnavailable):
    """The control database refused, dropped or timed out a connection or statement."""

    code = "database_unavailable"


class DatabaseNotMigrated(DependencyUnavailable):
    """The control database's schema is behind this version: a table or column it needs is
    not there yet (``thedata migrate`` brings it up to date)."""

    code = "database_not_migrated"


class ConcurrentUpdate(Conflict):
    """Another transaction changed the same data first; the whole operation may be retried."""

    code = "concurrent_update"


class ReferenceConflict(Conflict):
    """The change refers to something a concurrent change removed, or removes something
    still referred to; the request may be retried once the other change is known."""

    code = "reference_conflict"


class SecretStoreUnavailable(DependencyUnavailable):
    """The secret store cannot be reached (its database or file)."""

    code = "secret_store_unavailable"


class SecretUnreadable(DependencyUnavailable):
    """A stored secret cannot be decrypted: it was tampered with, or its key is not in the ring.

    Never retried into garbage: the value is refused, and an operator has to act
    (restore the key, or store the secret again).
    """

    code = "secret_unreadable"


class ConnectorFailed(DependencyUnavailable):
    """A data source did not answer as asked (unreachable, refused, timed out, misconfigured).

    The message is safe to show: it never carries a secret.
    """

    code = "connector_failed"


class CircuitOpen(ConnectorFailed):
    """Recent calls to the data source failed; calls are refused until its breaker half-opens."""

    code = "circuit_open"


class ConnectorMisconfigured(InvalidInput):
    """The data source's config cannot work as it stands (no such folder, no such database,
    authentication refused): retrying will not help, changing the config will.

    Not a dependency outage, so it neither opens the breaker nor asks clients to retry.
    """

    code = "connector_misconfigured"

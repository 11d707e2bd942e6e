"""Checking that a data source answers, and discovering its streams."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from uuid import UUID

from attrs import frozen

from thedata.application.authorization import authorize
from thedata.application.connector_guard import ConnectorGuard
from thedata.application.errors import (
    ConnectorFailed,
    ConnectorMisconfigured,
    DependencyUnavailable,
)
from thedata.application.ports import (
    Clock,
    Connector,
    ConnectorFactory,
    StreamSchema,
    UnitOfWorkFactory,
)
from thedata.application.ports.secrets import SecretStore
from thedata.application.use_cases.data_source_access import find_data_source, secrets_of
from thedata.domain.access import Action, allows
from thedata.domain.data_sources import DataSource, DataSourceHealth
from thedata.domain.principal import Principal


@frozen
class CheckOutcome:
    """Whether the data source answered, how fast, and if not, why (never with a secret)."""

    ok: bool
    latency_ms: float
    error: str | None = None


class _ConnectorCall:
    """Loads a data source with its secrets, calls its connector guarded, records its health."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        connectors: ConnectorFactory,
        secrets: SecretStore,
        guard: ConnectorGuard,
    ) -> None:
        self._uow, self._clock, self._connectors = uow, clock, connectors
        self._secrets, self._guard = secrets, guard

    async def _load(
        self, principal: Principal, organization_id: UUID, data_source_id: UUID, action: Action
    ) -> DataSource:
        authorize(principal, organization_id, action)
        async with self._uow() as uow:
            return await find_data_source(uow, organization_id, data_source_id)

    async def _connector(self, data_source: DataSource) -> Connector:
        """The data source's connector with its secrets (``ConnectorMisconfigured`` if lost)."""
        secrets = await secrets_of(self._secrets, data_source)
        return self._connectors.connector(
            data_source.organization_id, data_source.kind, data_source.config, secrets
        )

    async def _record(self, data_source: DataSource, *, checked: bool, error: str | None) -> None:
        outcome = self._guard.outcome(data_source.id)
        previous = data_source.health
        health = DataSourceHealth(
            circuit=outcome.circuit.value,
            open_until=outcome.open_until,
            last_check_at=self._clock.now() if checked else previous.last_check_at,
            last_error=error if checked else previous.last_error,
        )
        if health != previous:
            async with self._uow() as uow:
                await uow.data_sources.record_health(data_source.id, health)
                await uow.commit()

    async def _guarded_check(self, data_source: DataSource) -> None:
        """Check through the breaker and record the health seen (when the data source
        answered or failed to: a check that never ran, say the secret store was away, says
        nothing of it); raise what the check raised."""
        try:
            connector = await self._connector(data_source)
            await self._guard.call(
                data_source.id,
                "check",
                connector.check,
                open_elsewhere_until=data_source.health.open_until,
                kind=data_source.kind.value,
            )
        except (ConnectorFailed, ConnectorMisconfigured) as e:
            # connectors' messages carry no secret and echo no config value
            await self._record_quietly(data_source, error=str(e))
            raise
        await self._record_quietly(data_source, error=None)

    async def _record_quietly(self, data_source: DataSource, error: str | None) -> None:
        # the health is a record for people and other workers: a control database away for
        # a moment must not turn the check's own answer into another one
        with contextlib.suppress(DependencyUnavailable):
            await self._record(data_source, checked=True, error=error)


class CheckDataSource(_ConnectorCall):
    """Connect and run the least possible, within the time limit, through the breaker."""

    async def __call__(
        self, principal: Principal, organization_id: UUID, data_source_id: UUID
    ) -> CheckOutcome:
        """``ok`` with the latency, or not ``ok`` with a message; the answer is recorded."""
        data_source = await self._load(principal, organization_id, data_source_id, Action.WRITE)
        started = self._clock.monotonic()
        error = None
        try:
            await self._guarded_check(data_source)
        except (ConnectorFailed, ConnectorMisconfigured) as e:
            error = str(e)
        latency_ms = round((self._clock.monotonic() - started) * 1000, 2)
        return CheckOutcome(ok=error is None, latency_ms=latency_ms, error=error)


class ProbeDataSource(_ConnectorCall):
    """Before a run's attempt: does the data source answer? Through the same breaker as
    every other call (an open circuit raises ``CircuitOpen`` at once, failures count towards
    opening it), with the health recorded where the API and other workers see it."""

    async def __call__(self, data_source: DataSource) -> None:
        """Nothing when it answered; ``CircuitOpen``, ``ConnectorFailed`` or
        ``ConnectorMisconfigured`` when not."""
        await self._guarded_check(data_source)


class DiscoverStreams(_ConnectorCall):
    """List the streams a source offers, through the breaker; ``ConnectorFailed`` if it cannot."""

    async def __call__(
        self, principal: Principal, organization_id: UUID, data_source_id: UUID
    ) -> Sequence[StreamSchema]:
        """The streams with their fields and primary keys."""
        data_source = await self._load(principal, organization_id, data_source_id, Action.READ)
        connector = await self._connector(data_source)
        role = principal.role_in(organization_id)
        try:
            return await self._guard.call(
                data_source.id,
                "discover",
                connector.discover,
                open_elsewhere_until=data_source.health.open_until,
                kind=data_source.kind.value,
                # a viewer may look, but cannot open the circuit that pipelines depend on
                record_failures=role is not None and allows(role, Action.WRITE),
            )
        finally:
            await self._record(data_source, checked=False, error=None)

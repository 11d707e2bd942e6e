"""Readiness of the secret store, through its port: reachable, and which key seals."""

from __future__ import annotations

from uuid import UUID

from thedata.application.errors import DependencyUnavailable
from thedata.application.health import CheckResult, HealthStatus
from thedata.application.ports.clock import Clock
from thedata.application.ports.secrets import SecretKeyRotation, SecretStore

# No organization has the nil id: listing its references reads the store, and finds nothing.
_PROBE = UUID(int=0)


class SecretStoreCheck:
    """Lists a probe organization's references; reports the key version that seals."""

    component = "secrets"

    def __init__(self, store: SecretStore, rotation: SecretKeyRotation, clock: Clock) -> None:
        self._store, self._rotation, self._clock = store, rotation, clock

    async def check(self) -> tuple[CheckResult, ...]:
        """``pass`` with the sealing key version, or ``fail`` saying why the store is out."""
        started = self._clock.monotonic()
        try:
            await self._store.references(_PROBE)
        except DependencyUnavailable as e:
            return (self._result(HealthStatus.FAIL, str(e)),)
        latency_ms = round((self._clock.monotonic() - started) * 1000, 2)
        output = f"sealing with key version {self._rotation.current_key_version}"
        return (self._result(HealthStatus.PASS, output, latency_ms),)

    def _result(
        self, status: HealthStatus, output: str, latency_ms: float | None = None
    ) -> CheckResult:
        return CheckResult(
            component=self.component,
            measurement="store",
            status=status,
            time=self._clock.now(),
            observed_value=latency_ms,
            observed_unit="ms" if latency_ms is not None else None,
            component_type="datastore",
            output=output,
        )

"""Readiness of the secret store, through its port: reachable, its secrets open, and which
key seals."""

from __future__ import annotations

from thedata.application.errors import DependencyUnavailable
from thedata.application.health import CheckResult, HealthStatus
from thedata.application.ports.clock import Clock
from thedata.application.ports.secrets import SecretKeyRotation


class SecretStoreCheck:
    """Decrypts a canary per key version in use; reports the key version that seals.

    ``fail`` when the store is out or a key version's secrets do not open: a process started
    with the wrong key ring cannot reach a single data source sealed by the missing key, so it
    should take no traffic (a rolling deploy with a bad key stops at its first instance).
    """

    component = "secrets"

    def __init__(self, rotation: SecretKeyRotation, clock: Clock) -> None:
        self._rotation, self._clock = rotation, clock

    async def check(self) -> tuple[CheckResult, ...]:
        """``pass`` with the sealing key version, or ``fail`` saying what does not open."""
        started = self._clock.monotonic()
        try:
            unreadable = await self._rotation.unreadable_key_versions()
        except DependencyUnavailable as e:
            return (self._result(HealthStatus.FAIL, str(e)),)
        latency_ms = round((self._clock.monotonic() - started) * 1000, 2)
        if unreadable:
            versions = ", ".join(str(v) for v in unreadable)
            output = (
                f"secrets sealed with key version {versions} do not open: the key ring lacks "
                "that key, or holds another key under its version"
            )
            return (self._result(HealthStatus.FAIL, output, latency_ms),)
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

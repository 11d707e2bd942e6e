"""Readiness of the secret store, through its port: reachable, its secrets open, and which
key seals."""

from __future__ import annotations

from thedata.application.errors import DependencyUnavailable
from thedata.application.health import CheckResult, HealthStatus
from thedata.application.ports.clock import Clock
from thedata.application.ports.secrets import SecretKeyRotation


class SecretStoreCheck:
    """Decrypts canaries per key version in use; reports the key version that seals.

    ``fail`` when the store is out, or when secrets sealed by a key version up to this
    process's newest do not open: the process was started with a ring that lacks an old
    key or holds the wrong one, cannot reach the data sources it sealed, and should take no
    traffic (a rolling deploy with such a ring stops at its first instance). Versions newer
    than its newest are another process's new key, a ``warn``: this one is still serving
    and a restart with the new ring is the cure, not taking it (and, during a key roll-out,
    every instance not yet restarted) out of the load balancer.
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
        current = self._rotation.current_key_version
        wrong = [v for v in unreadable if v <= current]
        newer = [v for v in unreadable if v > current]
        if wrong:
            output = (
                f"secrets sealed with key version {_listed(wrong)} do not open: the key ring "
                "lacks that key, or holds another key under its version"
            )
            return (self._result(HealthStatus.FAIL, output, latency_ms),)
        if newer:
            output = (
                f"secrets are sealed with key version {_listed(newer)}, newer than this "
                f"process's ring (newest {current}): restart it with the new ring"
            )
            return (self._result(HealthStatus.WARN, output, latency_ms),)
        output = f"sealing with key version {current}"
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


def _listed(versions: list[int]) -> str:
    return ", ".join(str(v) for v in versions)

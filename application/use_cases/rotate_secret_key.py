"""Re-encrypting every secret under the newest key."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from attrs import frozen

from thedata.application.ports.secrets import SecretKeyRotation


@frozen
class RotationReport:
    """How many secrets moved, and how many each key version seals afterwards."""

    reencrypted: int
    by_key_version: Mapping[int, int]


class RotateSecretKey:
    """Re-encrypt in batches until no secret is left on an older key (online, resumable).

    Running it again after a crash carries on where it stopped; running it when
    everything is current does nothing.
    """

    def __init__(self, rotation: SecretKeyRotation) -> None:
        self._rotation = rotation

    async def __call__(
        self, batch_size: int = 100, on_batch: Callable[[int], None] | None = None
    ) -> RotationReport:
        """Rotate; ``on_batch`` hears how many secrets each batch moved."""
        total = 0
        while moved := await self._rotation.reencrypt(batch_size):
            total += moved
            if on_batch is not None:
                on_batch(moved)
        return RotationReport(total, await self._rotation.count_by_key_version())

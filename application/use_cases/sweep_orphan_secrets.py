"""Removing data-source secrets that no data source points at any more."""

from __future__ import annotations

from datetime import timedelta

from thedata.application.ports import Clock, UnitOfWorkFactory
from thedata.application.ports.secrets import SecretStore
from thedata.domain.data_sources import SECRET_REFERENCE_PREFIX

SWEEP_GRACE = timedelta(minutes=15)
"""Younger secrets are left alone: a unit of work still in flight may be about to point at them."""


class SweepOrphanSecrets:
    """Delete data-source secrets the catalog does not reference and that are old enough.

    Orphans come from a secret store that cannot share the catalog's
    transaction (the file store) when a process dies between writing a value
    and committing, or between committing and deleting the old value; and from
    deleted organizations. Safe to run at any time and any number of times.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        secrets: SecretStore,
        clock: Clock,
        grace: timedelta = SWEEP_GRACE,
    ) -> None:
        self._uow, self._secrets, self._clock, self._grace = uow, secrets, clock, grace

    async def __call__(self) -> int:
        """How many orphans were deleted."""
        # the store is listed first: a value written after this cannot be swept by mistake
        stored = await self._secrets.inventory()
        async with self._uow() as uow:
            referenced = await uow.data_sources.secret_references()
        cutoff = self._clock.now() - self._grace
        swept = 0
        for secret in stored:
            orphan = (secret.organization_id, secret.reference) not in referenced
            data_source_secret = secret.reference.startswith(SECRET_REFERENCE_PREFIX)
            if orphan and data_source_secret and secret.written_at < cutoff:
                swept += await self._secrets.delete(secret.organization_id, secret.reference)
        return swept

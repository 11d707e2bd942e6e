"""Moving every stream of a pipeline once: the engine as a library call.

Runs and workers (the next issue) put this behind a queue with leases; a
Python service can await it directly. Each call is one attempt with a fresh
epoch of the pipeline, so a call still running elsewhere (a zombie) is fenced
off at the destination the moment this one opens a stream.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from attrs import frozen

from thedata.application.authorization import authorize
from thedata.application.move_stream import StreamOutcome, move_stream
from thedata.application.ports import (
    ConnectorFactory,
    Moved,
    Retrying,
    StreamReader,
    StreamWriter,
    UnitOfWorkFactory,
)
from thedata.application.ports.secrets import SecretStore
from thedata.application.use_cases.data_source_access import find_data_source, secrets_of
from thedata.application.use_cases.get_pipeline import find_pipeline
from thedata.domain.access import Action
from thedata.domain.data_sources import DataSource
from thedata.domain.pipelines import Pipeline, PipelineNotFound
from thedata.domain.principal import Principal

StreamProgress = Callable[[str, Moved], None]
"""Told a stream's name and how far it has got, after each batch."""


@frozen
class PipelineOutcome:
    """What one attempt moved, stream by stream."""

    epoch: int
    streams: dict[str, StreamOutcome]


class RunPipeline:
    """Move each stream of a pipeline from its source to its destination (members and up).

    Streams run one after another. A stream that fails stops the attempt
    (``StreamFailed``, ``Superseded``, ``ConnectorFailed``...): what earlier
    batches committed stays, and the next attempt carries on from there.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        connectors: ConnectorFactory,
        secrets: SecretStore,
        batch_rows: int,
        retrying: Retrying | None = None,
        stall_timeout: float | None = None,
    ) -> None:
        self._uow, self._connectors, self._secrets = uow, connectors, secrets
        self._batch_rows, self._retrying = batch_rows, retrying
        self._stall_timeout = stall_timeout

    async def __call__(
        self,
        principal: Principal,
        organization_id: UUID,
        pipeline_id: UUID,
        *,
        progress: StreamProgress | None = None,
        verify: bool = False,
    ) -> PipelineOutcome:
        """Every stream moved once; their positions mirrored into the pipeline's ``state``.
        With ``verify``, each stream's outcome also says whether the destination matches the
        source's snapshot (``StreamOutcome.verification``)."""
        authorize(principal, organization_id, Action.WRITE)
        async with self._uow() as uow:
            pipeline = await find_pipeline(uow, organization_id, pipeline_id)
            source = await find_data_source(uow, organization_id, pipeline.source_id)
            destination = await find_data_source(uow, organization_id, pipeline.destination_id)
            epoch = await uow.pipelines.next_epoch(organization_id, pipeline_id)
            if epoch is None:  # deleted since it was read
                raise PipelineNotFound(f"pipeline {pipeline_id} not found")
            await uow.commit()
        reader, writer = await ends(self._connectors, self._secrets, source, destination)
        outcomes: dict[str, StreamOutcome] = {}
        for stream in pipeline.streams:
            outcomes[stream.name] = await move_stream(
                reader,
                writer,
                pipeline=str(pipeline.id),
                stream=stream,
                epoch=epoch,
                batch_rows=self._batch_rows,
                progress=_for_stream(progress, stream.name),
                retrying=self._retrying,
                verify=verify,
                stall_timeout=self._stall_timeout,
            )
            await self._mirror(pipeline, stream.name, outcomes[stream.name], epoch)
        return PipelineOutcome(epoch, outcomes)

    async def _mirror(
        self, pipeline: Pipeline, stream: str, outcome: StreamOutcome, epoch: int
    ) -> None:
        await mirror_state(self._uow, pipeline, stream, outcome, epoch)


async def ends(
    connectors: ConnectorFactory, secrets: SecretStore, source: DataSource, destination: DataSource
) -> tuple[StreamReader, StreamWriter]:
    """The pipeline's reader and writer, with their data sources' secrets."""
    reader = connectors.reader(
        source.organization_id, source.kind, source.config, await secrets_of(secrets, source)
    )
    writer = connectors.writer(
        destination.organization_id,
        destination.kind,
        destination.config,
        await secrets_of(secrets, destination),
    )
    return reader, writer


async def mirror_state(
    uow: UnitOfWorkFactory, pipeline: Pipeline, stream: str, outcome: StreamOutcome, epoch: int
) -> None:
    """Mirror a stream's committed position into the pipeline's ``state`` (for the API)."""
    position = outcome.position
    state = {
        "epoch": epoch,
        "cursor": position.cursor if position else None,
        "key": list(position.key) if position else None,
    }
    async with uow() as work:
        await work.pipelines.record_state(pipeline.organization_id, pipeline.id, stream, state)
        await work.commit()


def _for_stream(progress: StreamProgress | None, stream: str) -> Callable[[Moved], None] | None:
    if progress is None:
        return None
    return lambda moved: progress(stream, moved)

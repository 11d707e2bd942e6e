"""What creating and changing a pipeline share: usable data sources, streams that do not loop."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from thedata.application.ports import UnitOfWork
from thedata.domain.errors import FieldError, InvalidInput
from thedata.domain.pipelines import Stream, check_loopback


async def check_endpoints(
    uow: UnitOfWork,
    organization_id: UUID,
    source_id: UUID,
    destination_id: UUID,
    streams: Sequence[Stream],
) -> None:
    """The source is a readable, the destination a writable data source of the organization.

    Checked on the pipeline as it will be stored (after a PATCH's changes), so
    that changing only an endpoint cannot make the streams write what they read.
    """
    errors = []
    found = await uow.data_sources.get_many(organization_id, {source_id, destination_id})
    source, destination = found.get(source_id), found.get(destination_id)
    if source is None:
        errors.append(FieldError("/source_id", "no data source with this id in the organization"))
    elif not source.kind.readable:
        errors.append(FieldError("/source_id", f"a {source.kind.value} data source cannot be read"))
    if destination is None:
        message = "no data source with this id in the organization"
        errors.append(FieldError("/destination_id", message))
    elif not destination.kind.writable:
        message = f"a {destination.kind.value} data source cannot be written"
        errors.append(FieldError("/destination_id", message))
    if errors:
        raise InvalidInput("the pipeline's data sources are not usable", errors)
    check_loopback(source_id, destination_id, streams)

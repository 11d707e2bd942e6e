"""Bodies of data sources: a tagged union on ``kind``, each kind with its own config."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Union
from uuid import UUID

import msgspec

from thedata.adapters.connectors import CONNECTOR_KINDS, ConnectorKind
from thedata.application.ports import StreamSchema
from thedata.application.use_cases import CheckOutcome
from thedata.domain.data_sources import DataSource
from thedata.entrypoints.http.schemas.common import Name, Request, utc

CircuitName = Literal["closed", "open", "half_open"]


def _create_body(kind: ConnectorKind[Any]) -> type[Request]:
    """``{"name", "kind": <tag>, "config": <the kind's schema>}``, from the kind's registration."""
    title = "".join(part.title() for part in kind.kind.value.split("_"))
    body: type[Request] = msgspec.defstruct(  # type: ignore[assignment]  # bases=(Request,)
        f"Create{title}DataSource",
        [("name", Name), ("config", kind.config)],
        bases=(Request,),
        tag=kind.kind.value,
        tag_field="kind",
        module=__name__,
        namespace={"__doc__": kind.summary},
    )
    return body


# One body per registered kind: a new kind appears here (and in OpenAPI) by registering.
CREATE_BODIES = tuple(_create_body(kind) for kind in CONNECTOR_KINDS.values())

if TYPE_CHECKING:
    KindName = str

    class CreateDataSourceRequest(Request):
        """What every kind's create body has (at run time: the tagged union of them)."""

        name: Name
        config: msgspec.Struct
else:
    KindName = Literal[tuple(kind.value for kind in CONNECTOR_KINDS)]
    CreateDataSourceRequest = Union[CREATE_BODIES]  # noqa: UP007 - built from a tuple


class UpdateDataSourceRequest(Request):
    """A new name, and config fields to change (of the data source's kind; others are kept).

    A secret field (``password``) given here replaces the stored one; left out,
    the stored one stays.
    """

    name: Name | msgspec.UnsetType = msgspec.UNSET
    config: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET


class HealthBody(msgspec.Struct, frozen=True):
    """What the last connector calls said."""

    circuit: CircuitName
    last_check_at: datetime | None
    last_error: str | None


class DataSourceBody(msgspec.Struct, frozen=True):
    """A data source as the API shows it: config without secrets, secrets named."""

    id: UUID
    name: str
    kind: KindName
    config: dict[str, Any]
    secret_fields_set: list[str]
    health: HealthBody
    created_at: datetime
    updated_at: datetime


class DataSourcePage(msgspec.Struct, frozen=True):
    """A page of data sources."""

    items: list[DataSourceBody]
    next_cursor: str | None


class CheckBody(msgspec.Struct, frozen=True, omit_defaults=True):
    """Whether the data source answered; a failed check is ``ok: false`` with ``error``."""

    ok: bool
    latency_ms: float
    error: str | None = None


class FieldBody(msgspec.Struct, frozen=True):
    """A field of a stream and its type in the source system."""

    name: str
    type: str


class StreamBody(msgspec.Struct, frozen=True, omit_defaults=True):
    """A stream the source offers."""

    name: str
    fields: list[FieldBody]
    primary_key: list[str] | None = None


class StreamsBody(msgspec.Struct, frozen=True):
    """Every stream discovered in the source."""

    streams: list[StreamBody]


def data_source_body(data_source: DataSource) -> DataSourceBody:
    """The public view of a data source."""
    health = data_source.health
    circuit: CircuitName = health.circuit  # type: ignore[assignment]
    kind: KindName = data_source.kind.value
    return DataSourceBody(
        id=data_source.id,
        name=data_source.name,
        kind=kind,
        config=dict(data_source.config),
        secret_fields_set=list(data_source.secret_fields_set),
        health=HealthBody(
            circuit=circuit,
            last_check_at=utc(health.last_check_at) if health.last_check_at else None,
            last_error=health.last_error,
        ),
        created_at=utc(data_source.created_at),
        updated_at=utc(data_source.updated_at),
    )


def check_body(outcome: CheckOutcome) -> CheckBody:
    """The answer to a check."""
    return CheckBody(ok=outcome.ok, latency_ms=outcome.latency_ms, error=outcome.error)


def streams_body(streams: list[StreamSchema]) -> StreamsBody:
    """The answer to a discovery."""
    return StreamsBody(
        streams=[
            StreamBody(
                name=s.name,
                fields=[FieldBody(f.name, f.type) for f in s.fields],
                primary_key=list(s.primary_key) if s.primary_key is not None else None,
            )
            for s in streams
        ]
    )

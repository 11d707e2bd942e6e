"""A connector kind is one package plus one registration: the factory and the API follow."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest

from thedata.adapters.connectors import (
    CONNECTOR_KINDS,
    ConnectorKind,
    DefaultConnectorFactory,
    Environment,
    NetworkPolicy,
)
from thedata.application.errors import ConnectorMisconfigured
from thedata.application.ports import StreamSchema
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.errors import FieldError, InvalidInput
from thedata.entrypoints.http.schemas.data_sources import CREATE_BODIES

ORG = uuid.uuid4()


def test_every_kind_is_registered() -> None:
    """Each DataSourceKind has its connector kind, registered under its own name."""
    assert set(CONNECTOR_KINDS) == set(DataSourceKind)
    assert all(kind is spec.kind for kind, spec in CONNECTOR_KINDS.items())


@pytest.mark.parametrize("spec", CONNECTOR_KINDS.values(), ids=lambda s: s.kind.value)
def test_a_kind_declares_fields_its_schema_has(spec: ConnectorKind[Any]) -> None:
    """Secret and target fields are config fields; secrets are optional; unknown fields fail."""
    fields = {f.name: f for f in msgspec.structs.fields(spec.config)}
    assert set(spec.secret_fields) <= fields.keys()
    assert set(spec.target_fields) <= fields.keys()
    assert not set(spec.secret_fields) & set(spec.target_fields)
    assert all(not fields[name].required for name in spec.secret_fields)
    assert spec.config.__struct_config__.forbid_unknown_fields
    assert spec.summary


def test_the_api_has_one_create_body_per_kind() -> None:
    """The HTTP union is built from the registry: tag = kind, config = the kind's schema."""
    assert {body.__struct_config__.tag: body for body in CREATE_BODIES}.keys() == {
        kind.value for kind in CONNECTOR_KINDS
    }
    for body in CREATE_BODIES:
        config = {f.name: f.type for f in msgspec.structs.fields(body)}["config"]
        assert config is CONNECTOR_KINDS[DataSourceKind(body.__struct_config__.tag)].config


class EchoConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    where: str
    token: str | None = None


class EchoConnector:
    def __init__(self, config: EchoConfig, secrets: Mapping[str, str]) -> None:
        self.config, self.secrets = config, secrets

    async def check(self) -> None:
        return None

    async def discover(self) -> Sequence[StreamSchema]:
        return []


def _echo(
    _environment: Environment, _org: uuid.UUID, config: EchoConfig, secrets: Mapping[str, str]
) -> EchoConnector:
    return EchoConnector(config, secrets)


def _no_nowhere(_environment: Environment, _org: uuid.UUID, config: EchoConfig) -> list[FieldError]:
    return [FieldError("/where", "must not be nowhere")] if config.where == "nowhere" else []


ECHO = ConnectorKind(
    kind=DataSourceKind.FILE,  # stands in for a kind the factory has never heard of
    config=EchoConfig,
    summary="A test kind.",
    secret_fields=("token",),
    target_fields=("where",),
    connector=_echo,
    problems=_no_nowhere,
)


@pytest.fixture
def factory(tmp_path: Path) -> DefaultConnectorFactory:
    return DefaultConnectorFactory(
        tmp_path, NetworkPolicy(), 2, None, kinds={DataSourceKind.FILE: ECHO}
    )


def test_the_factory_serves_any_registered_kind(factory: DefaultConnectorFactory) -> None:
    """Validation splits shown, secret, target and cleared fields from the kind's declaration."""
    validated = factory.validate(ORG, DataSourceKind.FILE, {"where": "here", "token": "t0k"})
    assert validated.config == {"where": "here"}
    assert validated.secrets == {"token": "t0k"}
    assert validated.target == {"where": "here"}
    assert validated.cleared == frozenset()
    cleared = factory.validate(ORG, DataSourceKind.FILE, {"where": "here", "token": None})
    assert cleared.secrets == {}
    assert cleared.cleared == {"token"}
    connector = factory.connector(ORG, DataSourceKind.FILE, validated.config, {"token": "t0k"})
    assert isinstance(connector, EchoConnector)
    assert connector.secrets == {"token": "t0k"}


def test_schema_and_kind_checks_answer_with_config_pointers(
    factory: DefaultConnectorFactory,
) -> None:
    """Unknown fields, wrong types and the kind's own checks: InvalidInput under /config."""
    for config, pointer in (
        ({"where": "here", "what": 1}, "/config/what"),
        ({"where": 5}, "/config/where"),
        ({}, "/config/where"),
        ({"where": "nowhere"}, "/config/where"),
    ):
        with pytest.raises(InvalidInput) as raised:
            factory.validate(ORG, DataSourceKind.FILE, config)
        assert [e.field for e in raised.value.errors] == [pointer]


async def test_a_stored_config_todays_rules_refuse_gives_a_refusing_connector(
    factory: DefaultConnectorFactory,
) -> None:
    """connector() never raises: the check says the config must be fixed (4xx, not 500)."""
    connector = factory.connector(ORG, DataSourceKind.FILE, {"where": "nowhere"}, {})
    with pytest.raises(ConnectorMisconfigured) as raised:
        await connector.check()
    assert raised.value.errors[0].field == "/config/where"

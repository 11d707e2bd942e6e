"""Connectors to the systems data sources point at: one package per kind, one registry."""

from thedata.adapters.connectors.breaker_log import log_transition
from thedata.adapters.connectors.control_database import ControlDatabase, DatabaseIdentity
from thedata.adapters.connectors.factory import DefaultConnectorFactory
from thedata.adapters.connectors.file import FileConfig, FileConnector, Limits
from thedata.adapters.connectors.kind import ConnectorKind, Environment
from thedata.adapters.connectors.network import NetworkPolicy, ascii_host
from thedata.adapters.connectors.postgres import PostgresConfig, PostgresConnector
from thedata.adapters.connectors.registry import CONNECTOR_KINDS
from thedata.adapters.connectors.retrying import StaminaRetrying

__all__ = [
    "CONNECTOR_KINDS",
    "ConnectorKind",
    "ControlDatabase",
    "DatabaseIdentity",
    "DefaultConnectorFactory",
    "Environment",
    "FileConfig",
    "FileConnector",
    "Limits",
    "NetworkPolicy",
    "PostgresConfig",
    "PostgresConnector",
    "StaminaRetrying",
    "ascii_host",
    "log_transition",
]

"""Connectors to the systems data sources point at: PostgreSQL and folders of files."""

from thedata.adapters.connectors.breaker_log import log_transition
from thedata.adapters.connectors.configs import FileConfig, PostgresConfig
from thedata.adapters.connectors.factory import DefaultConnectorFactory
from thedata.adapters.connectors.files import FileConnector, folder_under_root
from thedata.adapters.connectors.network import NetworkPolicy
from thedata.adapters.connectors.postgres import PostgresConnector

__all__ = [
    "DefaultConnectorFactory",
    "FileConfig",
    "FileConnector",
    "NetworkPolicy",
    "PostgresConfig",
    "PostgresConnector",
    "folder_under_root",
    "log_transition",
]

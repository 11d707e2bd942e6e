"""The ``file`` kind: a folder of CSV or JSON Lines files in the organization's data folder."""

from thedata.adapters.connectors.file.config import (
    SECRET_FIELDS,
    TARGET_FIELDS,
    FileConfig,
    config_problems,
)
from thedata.adapters.connectors.file.connector import FileConnector, file_connector
from thedata.adapters.connectors.file.layout import shared_layout_entries
from thedata.adapters.connectors.file.reader import folder_reader
from thedata.adapters.connectors.file.sampling import Limits
from thedata.adapters.connectors.file.writer import folder_writer
from thedata.adapters.connectors.kind import ConnectorKind
from thedata.domain.data_sources import DataSourceKind

FILE: ConnectorKind[FileConfig] = ConnectorKind(
    kind=DataSourceKind.FILE,
    config=FileConfig,
    summary="A folder of CSV or JSON Lines files in the organization's data folder.",
    secret_fields=SECRET_FIELDS,
    target_fields=TARGET_FIELDS,
    connector=file_connector,
    problems=config_problems,
    reader=folder_reader,
    writer=folder_writer,
)

__all__ = ["FILE", "FileConfig", "FileConnector", "Limits", "shared_layout_entries"]

"""The file connector: a folder of CSV or JSON Lines files in the organization's data folder."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from uuid import UUID

from thedata.adapters.connectors.file.config import FileConfig
from thedata.adapters.connectors.file.folders import open_folder
from thedata.adapters.connectors.file.manifest import load
from thedata.adapters.connectors.file.sampling import Limits, Reading, csv_stream, jsonl_stream
from thedata.adapters.connectors.file.storage import StreamFolder
from thedata.adapters.connectors.kind import Environment
from thedata.adapters.connectors.work import Budget, run_bounded
from thedata.application.errors import ConnectorFailed
from thedata.application.ports import FieldSchema, StreamSchema
from thedata.application.ports.streams import StreamFailed

LIMITS = Limits()
_SUFFIX = {"csv": ".csv", "jsonl": ".jsonl"}
_STREAM = {"csv": csv_stream, "jsonl": jsonl_stream}


class FileConnector:
    """Opens the folder again at every call, so a symlink swapped in later is caught too."""

    def __init__(
        self, root: str, config: FileConfig, timeout: float, limits: Limits = LIMITS
    ) -> None:
        self._root, self._config, self._timeout, self._limits = root, config, timeout, limits

    def _names(self, budget: Budget) -> list[str]:
        with open_folder(self._root, self._config.path) as folder:
            return folder.names(
                _SUFFIX[self._config.format], most=self._limits.entries, budget=budget
            )

    def _discover(self, budget: Budget) -> list[StreamSchema]:
        """The folder's files, and the tables published in it (a folder with a manifest, as
        the engine writes them), the table where both have a name, as a run reads it."""
        reading = Reading(self._limits, budget)
        stream = _STREAM[self._config.format]
        streams: dict[str, StreamSchema] = {}
        with open_folder(self._root, self._config.path) as folder:
            for name in folder.names(
                _SUFFIX[self._config.format], most=self._limits.entries, budget=budget
            ):
                descriptor = folder.open(name)
                if descriptor is None:
                    continue
                try:
                    lines = reading.head(descriptor, name)
                finally:
                    os.close(descriptor)
                schema = stream(name, lines, budget, self._limits.fields)
                streams[schema.name] = schema
            for name in folder.folders(most=self._limits.entries, budget=budget):
                published = self._published(folder.descriptor, name)
                if published is not None:
                    streams[name] = published
        return [streams[name] for name in sorted(streams)]

    def _published(self, parent: int, name: str) -> StreamSchema | None:
        """The table published in the folder ``name``, from its manifest: its columns with
        their PostgreSQL types and its key (``None``: none of this format is published)."""
        try:
            with StreamFolder.opened(parent, name, create=False) as stream_folder:
                manifest = load(stream_folder)
        except (StreamFailed, OSError):
            return None  # not a folder of ours, or a damaged one: a run would refuse it too
        if manifest is None or manifest.format != self._config.format:
            return None
        fields = tuple(FieldSchema(column.name, column.type) for column in manifest.columns)
        return StreamSchema(name, fields, manifest.primary_key or None)

    def _reachable(self, _budget: Budget) -> None:
        with open_folder(self._root, self._config.path):
            pass  # opened read-only inside the organization's folder: reachable and readable

    async def check(self) -> None:
        # the folder is there and readable, no more: a run reads its streams by name and
        # never lists the folder, so a folder too big to list is not broken for it
        try:
            await run_bounded(self._reachable, self._timeout)
        except OSError:
            raise ConnectorFailed("the folder cannot be read now") from None

    async def discover(self) -> Sequence[StreamSchema]:
        try:
            return await run_bounded(self._discover, self._timeout)
        except OSError:
            raise ConnectorFailed("the folder cannot be read now") from None


def file_connector(
    environment: Environment,
    organization_id: UUID,
    config: FileConfig,
    _secrets: Mapping[str, str],
) -> FileConnector:
    """The ``file`` kind's connector, confined to the organization's own folder."""
    return FileConnector(
        str(environment.organization_root(organization_id)), config, environment.timeout
    )

"""The file connector: a folder of CSV or JSON Lines files under the server's data root."""

from __future__ import annotations

import asyncio
import csv
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from thedata.adapters.connectors.configs import FileConfig
from thedata.application.errors import ConnectorFailed
from thedata.application.ports import FieldSchema, StreamSchema
from thedata.domain.errors import FieldError, InvalidInput

SAMPLE_ROWS = 100
_SUFFIX = {"csv": ".csv", "jsonl": ".jsonl"}


def folder_under_root(root: Path, path: str) -> Path:
    """The folder ``path`` names, inside ``root`` (symlinks resolved); ``InvalidInput`` if not.

    Relative paths are taken from the root; absolute ones must lie inside it;
    ``..`` is refused outright, and a symlink that leads out of the root too.
    """

    def refuse(message: str) -> InvalidInput:
        return InvalidInput("the folder is not allowed", [FieldError("/config/path", message)])

    if ".." in PurePosixPath(path).parts:
        raise refuse("must not contain '..'")
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        raise refuse("must not contain control characters")
    real_root = root.resolve()
    candidate = Path(path) if Path(path).is_absolute() else real_root / path
    resolved = candidate.resolve()  # follows symlinks, so one pointing outside is caught here
    if not resolved.is_relative_to(real_root):
        raise refuse(f"must be inside the server's data root ({root})")
    return resolved


def _type_of(values: Iterable[str]) -> str:
    kinds = set()
    for value in values:
        if value == "":
            continue
        if value.lstrip("-").isdigit():
            kinds.add("integer")
        elif _is_number(value):
            kinds.add("number")
        elif value.lower() in ("true", "false"):
            kinds.add("boolean")
        else:
            return "string"
    if kinds == {"integer", "number"}:
        return "number"
    return kinds.pop() if len(kinds) == 1 else "string"


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


_JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _csv_stream(path: Path) -> StreamSchema:
    with path.open(newline="", encoding="utf-8", errors="replace") as file:
        reader = csv.reader(file)
        header = next(reader, [])
        rows = [row for _, row in zip(range(SAMPLE_ROWS), reader, strict=False)]
    fields = tuple(
        FieldSchema(name, _type_of(row[i] for row in rows if i < len(row)))
        for i, name in enumerate(header)
    )
    return StreamSchema(path.stem, fields)


def _jsonl_stream(path: Path) -> StreamSchema:
    types: dict[str, str] = {}
    with path.open(encoding="utf-8", errors="replace") as file:
        for _, line in zip(range(SAMPLE_ROWS), file, strict=False):
            try:
                record: Any = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            for key, value in record.items():
                kind = _JSON_TYPES.get(type(value))
                if kind is None:
                    types.setdefault(key, "null")
                    continue
                known = types.get(key, "null")
                types[key] = kind if known in ("null", kind) else "string"
    return StreamSchema(path.stem, tuple(FieldSchema(k, v) for k, v in types.items()))


class FileConnector:
    """Reads the folder again at every call, so a symlink swapped in later is caught too."""

    def __init__(self, config: FileConfig, data_root: Path) -> None:
        self._config, self._root = config, data_root

    def _folder(self) -> Path:
        try:
            folder = folder_under_root(self._root, self._config.path)
        except InvalidInput as e:
            raise ConnectorFailed(e.errors[0].message) from None
        if not folder.is_dir():
            raise ConnectorFailed(f"no folder {self._config.path!r} under the data root")
        if not os.access(folder, os.R_OK | os.X_OK):
            raise ConnectorFailed(f"the folder {self._config.path!r} is not readable")
        return folder

    def _files(self) -> list[Path]:
        suffix = _SUFFIX[self._config.format]
        folder = self._folder()
        return sorted(p for p in folder.iterdir() if p.suffix == suffix and p.is_file())

    async def check(self) -> None:
        await asyncio.to_thread(self._files)

    async def discover(self) -> Sequence[StreamSchema]:
        def read() -> list[StreamSchema]:
            reader = _csv_stream if self._config.format == "csv" else _jsonl_stream
            return [reader(path) for path in self._files()]

        try:
            return await asyncio.to_thread(read)
        except OSError as e:
            raise ConnectorFailed(f"cannot read the folder: {e.strerror}") from None

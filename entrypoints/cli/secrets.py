"""``thedata secrets``: key generation, status and rotation."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path

import msgspec
import structlog

from thedata.application.use_cases import RotationReport
from thedata.entrypoints.config import Settings
from thedata.entrypoints.container import (
    KEY_FILE_NAME,
    add_key_to_file,
    build_container,
    load_key_ring,
    new_key_entry,
    started,
)
from thedata.entrypoints.resolve import resolve

log = structlog.get_logger(__name__)


def generate_key(version: int) -> int:
    """Print a new key entry; an operator puts it first in THEDATA_SECRET_KEYS."""
    sys.stdout.write(new_key_entry(version) + "\n")
    return 0


def secrets_status(settings: Settings, _args: argparse.Namespace) -> int:
    """Print how many secrets each key version seals, and which version is the newest."""
    counts = asyncio.run(_status(settings))
    ring = load_key_ring(settings)
    for version in sorted(set(ring.keys) | set(counts), reverse=True):
        marks = [
            m
            for m, on in (
                ("newest", version == ring.current),
                ("not in the ring", version not in ring.keys),
            )
            if on
        ]
        suffix = f" ({', '.join(marks)})" if marks else ""
        print(f"key version {version}: {counts.get(version, 0)} secrets{suffix}")  # noqa: T201
    return 0


async def _status(settings: Settings) -> dict[int, int]:
    async with started(build_container(settings)) as container:
        store = await resolve(container.secret_store)
        return dict(await store.count_by_key_version())


def rotate_key(settings: Settings, args: argparse.Namespace) -> int:
    """Optionally add a key to the key file, then move every secret onto the newest key."""
    if args.add_key:
        path = _key_file(settings)
        version = add_key_to_file(path)
        log.info("secret key added", key_version=version, key_file=str(path))
        print(f"added key version {version} to {path}")  # noqa: T201
        settings = _with_key_file(settings, path)
    report = asyncio.run(_rotate(settings, args.batch_size))
    print(f"re-encrypted {report.reencrypted} secrets")  # noqa: T201
    for version, count in sorted(report.by_key_version.items(), reverse=True):
        print(f"key version {version}: {count} secrets")  # noqa: T201
    return 0


async def _rotate(settings: Settings, batch_size: int) -> RotationReport:
    async with started(build_container(settings)) as container:
        store = await resolve(container.secret_store)
        rotate = await resolve(container.rotate_secret_key)
        # one line as it starts and one as it ends, never one per batch: an operator sees
        # what moved where, and a rotation that died shows as a start without its end
        log.info(
            "secret key rotation started",
            key_version=store.current_key_version,
            secrets_by_key_version=_by_version(await store.count_by_key_version()),
        )
        report = await rotate(batch_size)
        log.info(
            "secret key rotation finished",
            key_version=store.current_key_version,
            reencrypted=report.reencrypted,
            secrets_by_key_version=_by_version(report.by_key_version),
        )
        return report


def _by_version(counts: Mapping[int, int]) -> dict[str, int]:
    return {str(version): count for version, count in sorted(counts.items(), reverse=True)}


def sweep_secrets(settings: Settings, _args: argparse.Namespace) -> int:
    """Delete data-source secrets that no data source points at, and say how many."""
    swept = asyncio.run(_sweep(settings))
    print(f"deleted {swept} orphaned secrets")  # noqa: T201
    return 0


async def _sweep(settings: Settings) -> int:
    async with started(build_container(settings)) as container:
        sweep = await resolve(container.sweep_orphan_secrets)
        return await sweep()


def _key_file(settings: Settings) -> Path:
    if settings.secret_keys is not None:
        raise SystemExit(
            "thedata: --add-key needs a key file; with THEDATA_SECRET_KEYS, put a new entry "
            "from `thedata secrets generate-key` first in the list instead"
        )
    if settings.secret_key_file is not None:
        return Path(settings.secret_key_file)
    load_key_ring(settings)  # generates the file if this is its first use
    return Path(settings.home) / KEY_FILE_NAME


def _with_key_file(settings: Settings, path: Path) -> Settings:
    return msgspec.structs.replace(settings, secret_key_file=str(path))

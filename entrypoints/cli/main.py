"""``thedata``: the command line of the service."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from uuid import UUID

from thedata.application.errors import DependencyUnavailable
from thedata.entrypoints.cli.commands import (
    check_config,
    migrate,
    print_config_docs,
    print_openapi_document,
    serve,
    work,
)
from thedata.entrypoints.cli.runs import list_runs, retry_run
from thedata.entrypoints.cli.secrets import (
    generate_key,
    rotate_key,
    secrets_status,
    sweep_secrets,
)
from thedata.entrypoints.cli.workers import list_workers
from thedata.entrypoints.config import ConfigurationError, Settings, load_settings
from thedata.entrypoints.container import (
    EmbeddedPostgresUnavailable,
    KeyRingError,
    MigrationError,
    configure_logging,
)

EXIT_FAILURE = 1
EXIT_CONFIGURATION = 2


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thedata", description="theData.io API: move data between databases and files."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve_cmd = commands.add_parser("serve", help="run the HTTP API")
    serve_cmd.add_argument("--host", help="address to bind (default: THEDATA_HOST)")
    serve_cmd.add_argument(
        "--port", type=_positive_int, help="port to listen on (default: THEDATA_PORT)"
    )
    serve_cmd.add_argument(
        "--workers", type=_positive_int, default=1, help="API processes (default: 1)"
    )
    serve_cmd.add_argument(
        "--no-worker",
        action="store_true",
        help="do not execute runs in this process (with --workers above 1 it never does: "
        "run `thedata worker` beside it)",
    )

    worker_cmd = commands.add_parser("worker", help="claim and execute runs (no HTTP API)")
    worker_cmd.add_argument(
        "--concurrency", type=_positive_int, default=1, help="runs executed at once (default: 1)"
    )

    commands.add_parser(
        "workers", help="list the workers executing runs: host, runs held, last seen"
    )
    runs_cmd = commands.add_parser("runs", help="the run queue of every organization (operators)")
    runs_actions = runs_cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    runs_list = runs_actions.add_parser(
        "list", help="the queued and running runs, oldest first, and which are stuck"
    )
    runs_list.add_argument(
        "--stuck", action="store_true", help="only the runs no worker is moving, with why"
    )
    runs_list.add_argument(
        "--limit", type=_positive_int, default=100, help="at most this many (default: 100)"
    )
    runs_list.add_argument("--json", action="store_true", help="one JSON object per line")
    runs_retry = runs_actions.add_parser(
        "retry", help="queue a failed or cancelled run again (a new run, trigger `retry`)"
    )
    runs_retry.add_argument("run_id", type=UUID, metavar="RUN_ID", help="the run's id")
    commands.add_parser("migrate", help="apply pending database migrations and exit")

    config_cmd = commands.add_parser("config", help="validate or document the configuration")
    config_actions = config_cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    config_actions.add_parser("check", help="validate the configuration; non-zero exit if invalid")
    config_actions.add_parser("docs", help="print every setting as a Markdown table")
    commands.add_parser(
        "openapi", help="print the API's OpenAPI document (the source of docs/openapi.json)"
    )

    secrets_cmd = commands.add_parser("secrets", help="manage the secret key ring")
    secrets_actions = secrets_cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    secrets_actions.add_parser("status", help="count the stored secrets per key version")
    rotate = secrets_actions.add_parser(
        "rotate-key", help="re-encrypt every secret under the newest key (online, resumable)"
    )
    rotate.add_argument(
        "--batch-size", type=_positive_int, default=100, help="secrets per transaction"
    )
    rotate.add_argument(
        "--add-key",
        action="store_true",
        help="first add a new newest key to THEDATA_SECRET_KEY_FILE (or the generated file)",
    )
    secrets_actions.add_parser(
        "sweep",
        help="delete data-source secrets no data source points at (left by a crash or a deleted"
        " organization; with the file store)",
    )
    generate = secrets_actions.add_parser(
        "generate-key", help="print a new random key entry for THEDATA_SECRET_KEYS"
    )
    generate.add_argument("--version", type=_positive_int, default=1, help="its version")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command in ``argv`` and exit with its status."""
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command in ``argv``; return the exit status (0 ok, 1 failure, 2 configuration)."""
    args = _parser().parse_args(argv)
    if args.command == "config" and args.action == "docs":
        return print_config_docs()
    if args.command == "openapi":
        return print_openapi_document()
    if args.command == "secrets" and args.action == "generate-key":
        return generate_key(args.version)
    try:
        settings = load_settings()
    except ConfigurationError as e:
        print(f"thedata: invalid configuration: {e}", file=sys.stderr)  # noqa: T201
        return EXIT_CONFIGURATION
    try:
        if args.command == "config":
            return check_config(settings)
        return _run_with_database(args, settings)
    except KeyRingError as e:
        print(f"thedata: invalid configuration: {e}", file=sys.stderr)  # noqa: T201
        return EXIT_CONFIGURATION


def _run_with_database(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    try:
        if args.command == "migrate":
            return migrate(settings)
        if args.command == "secrets":
            actions = {"rotate-key": rotate_key, "sweep": sweep_secrets}
            return actions.get(args.action, secrets_status)(settings, args)
        if args.command == "worker":
            return work(settings, concurrency=args.concurrency)
        if args.command == "workers":
            return list_workers(settings)
        if args.command == "runs" and args.action == "retry":
            return retry_run(settings, args.run_id)
        if args.command == "runs":
            return list_runs(settings, stuck=args.stuck, limit=args.limit, as_json=args.json)
        return serve(
            settings,
            host=args.host,
            port=args.port,
            workers=args.workers,
            with_worker=not args.no_worker,
        )
    except (MigrationError, DependencyUnavailable, EmbeddedPostgresUnavailable) as e:
        print(f"thedata: {e}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILURE

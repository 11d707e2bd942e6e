"""The ``thedata`` command line."""

from thedata.entrypoints.cli.main import main, run

__all__ = ["main", "run"]

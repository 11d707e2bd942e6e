"""``python -m thedata.entrypoints.cli`` runs the ``thedata`` command."""

from thedata.entrypoints.cli.main import main

main()

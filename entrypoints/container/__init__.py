"""The composition root: the one package that names concrete adapters and wires them.

The HTTP app, the CLI, the worker and library users all start from
``build_container``; tests override single providers instead of patching.
One module per feature (``infrastructure``, ``identity``, ``catalog``; runs
next), joined in ``root``. The few adapter names the other entry points need
(logging set-up, key files, the errors they report) are handed out here too,
so that nothing else in ``entrypoints`` imports an adapter; what the HTTP edge takes
(the request scope, the access line) is in ``edge``, which it may import (it needs no
container).
"""

from thedata.adapters.observability import configure_logging
from thedata.adapters.observability.metrics import serve_metrics, start_multiprocess_directory
from thedata.adapters.postgres import EmbeddedPostgresUnavailable, MigrationError
from thedata.adapters.secrets import KeyRingError, add_key_to_file, new_key_entry
from thedata.entrypoints.container.identity import identity_policy
from thedata.entrypoints.container.resources import (
    KEY_FILE_NAME,
    embedded_data_dir,
    load_key_ring,
    running_database,
)
from thedata.entrypoints.container.root import Container, build_container, started

__all__ = [
    "KEY_FILE_NAME",
    "Container",
    "EmbeddedPostgresUnavailable",
    "KeyRingError",
    "MigrationError",
    "add_key_to_file",
    "build_container",
    "configure_logging",
    "embedded_data_dir",
    "identity_policy",
    "load_key_ring",
    "new_key_entry",
    "running_database",
    "serve_metrics",
    "start_multiprocess_directory",
    "started",
]

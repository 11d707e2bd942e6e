"""The one place where psycopg's errors become the ports' errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg_errors

from thedata.application.errors import (
    ConcurrentUpdate,
    DatabaseNotMigrated,
    DatabaseUnavailable,
    ReferenceConflict,
)
from thedata.domain.errors import InvalidInput


@contextmanager
def translated_errors() -> Iterator[None]:
    """Re-raise driver errors that callers can act on as port errors.

    Serialization failures and deadlocks mean "retry the whole transaction";
    connection, pool and timeout errors mean "the database is unavailable".
    A value the database cannot store (a NUL character, an invalid byte
    sequence) is the caller's invalid input, whichever field it came in. A
    foreign key a concurrent transaction broke (a row referred to was deleted,
    or one still referred to) is a conflict the caller may retry; repositories
    that know better name it first (``DataSourceInUse``).
    Anything else (a syntax error, a violated constraint nobody expected) is a
    bug and passes through untouched, to be reported as one.
    """
    try:
        yield
    except (pg_errors.SerializationFailure, pg_errors.DeadlockDetected) as e:
        raise ConcurrentUpdate("a concurrent transaction changed the same data") from e
    except pg_errors.ForeignKeyViolation as e:
        raise ReferenceConflict(
            "the change refers to data a concurrent request changed; try it again"
        ) from e
    except (pg_errors.UndefinedTable, pg_errors.UndefinedColumn) as e:
        # the service's own statements name only what its migrations create
        raise DatabaseNotMigrated(
            "the database's schema is behind this version: run `thedata migrate`"
        ) from e
    except pg_errors.QueryCanceled as e:
        raise DatabaseUnavailable("the database did not answer in time") from e
    except psycopg.DataError as e:
        raise InvalidInput(
            "the request holds a value that cannot be stored (a NUL character, say)"
        ) from e
    except psycopg.OperationalError as e:
        # covers refused and dropped connections, server shutdown and pool timeouts
        raise DatabaseUnavailable("the database is unavailable") from e

"""The business core of theData.io: entities, value objects, rules and their errors.

Pure Python and attrs: nothing here performs I/O or knows of HTTP, SQL or files.
"""

from thedata.domain.errors import (
    Conflict,
    DomainError,
    FieldError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)

__all__ = [
    "Conflict",
    "DomainError",
    "FieldError",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
]

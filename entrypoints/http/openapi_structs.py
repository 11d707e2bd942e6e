"""The OpenAPI schema of a msgspec struct, as exact as the struct's own validation.

Litestar's struct plugin leaves out two things a client (and a schema fuzzer) must know:
that a request body refuses unknown fields (``forbid_unknown_fields``), and rules that
span fields (exactly one of two, a field needed when another has some value), which a
struct states as ``__openapi_refine__``: a function that completes its schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

# Litestar exports no way to extend a struct's schema other than its own plugin
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import Reference, Schema
from litestar.openapi.spec.enums import OpenAPIType

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

SchemaRefinement = Callable[["Schema"], None]
"""Completes a struct's generated schema in place."""


NO_NUL = "^[^\\x00]*$"
"""Request strings never hold U+0000 (PostgreSQL text cannot; ``json_body`` refuses it)."""


def _refuse_nul(schema: Schema | Reference) -> None:
    """Give a string property (or a union with a string) without a pattern ``NO_NUL``;
    patterns of our own exclude control characters already."""
    if not isinstance(schema, Schema) or schema.pattern is not None or schema.enum is not None:
        return
    branches = [schema, *(schema.one_of or []), *(schema.any_of or [])]
    if any(isinstance(b, Schema) and b.type == OpenAPIType.STRING for b in branches):
        schema.pattern = NO_NUL
    if isinstance(schema.items, Schema):
        _refuse_nul(schema.items)
    for branch in branches[1:]:
        _refuse_nul(branch)


class ExactStructSchemaPlugin(StructSchemaPlugin):
    """Struct schemas with ``additionalProperties: false`` where unknown fields are refused,
    and each struct's ``__openapi_refine__``. Registered before Litestar's own plugin."""

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        struct: Any = field_definition.type_
        if struct.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
            for value in (schema.properties or {}).values():
                _refuse_nul(value)
        refine: SchemaRefinement | None = getattr(struct, "__openapi_refine__", None)
        if refine is not None:
            refine(schema)
        return schema

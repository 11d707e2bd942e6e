"""Whether replacing a table by another would lose something that hangs on it.

A full refresh swaps a freshly loaded table in only when the old one is
plain: nothing refers to it (views, rules, foreign keys either way, publications,
inheritance) and nothing set on it would be lost with it (grants, triggers,
policies, other indexes and constraints, defaults, comments, options, another
owner). Otherwise it truncates and reloads the table itself, in one
transaction, which keeps all of that.
"""

from __future__ import annotations

from typing import Any

import psycopg

_KEEPS = """
SELECT c.relacl IS NOT NULL
    OR c.reloptions IS NOT NULL
    OR c.relrowsecurity
    OR c.relkind <> 'r'
    OR NOT pg_has_role(current_user, c.relowner, 'MEMBER')
    OR EXISTS (SELECT 1 FROM pg_depend d
               WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
                 AND d.classid = 'pg_rewrite'::regclass)
    OR EXISTS (SELECT 1 FROM pg_constraint k
               WHERE k.confrelid = c.oid OR (k.conrelid = c.oid AND k.contype NOT IN ('p', 'n')))
    OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND NOT i.indisprimary)
    OR EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)
    OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)
    OR EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = c.oid OR h.inhparent = c.oid)
    OR EXISTS (SELECT 1 FROM pg_publication_rel r WHERE r.prrelid = c.oid)
    OR EXISTS (SELECT 1 FROM pg_attrdef a WHERE a.adrelid = c.oid)
    OR EXISTS (SELECT 1 FROM pg_description s
               WHERE s.classoid = 'pg_class'::regclass AND s.objoid = c.oid)
FROM pg_class c WHERE c.oid = %s
"""


async def keeps_dependents(connection: psycopg.AsyncConnection[Any], oid: int) -> bool:
    """Whether the table ``oid`` has something a swap would break or lose."""
    found = await (await connection.execute(_KEEPS, (oid,))).fetchone()
    return found is None or bool(found[0])


_REFERENCED = """
SELECT EXISTS (SELECT 1 FROM pg_constraint
               WHERE confrelid = %s AND contype = 'f' AND conrelid <> confrelid)
"""


async def referenced(connection: psycopg.AsyncConnection[Any], oid: int) -> bool:
    """Whether another table's foreign key refers to the table ``oid`` (it cannot be
    truncated then: its rows are replaced by key instead)."""
    found = await (await connection.execute(_REFERENCED, (oid,))).fetchone()
    return bool(found and found[0])

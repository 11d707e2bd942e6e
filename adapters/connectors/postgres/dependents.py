"""Whether replacing a table by another would lose something that hangs on it.

A full refresh swaps a freshly loaded table in only when the old one is
plain, as this writer creates it: nothing refers to it and nothing was set on
it that a new table would not have. Anything else keeps the table, which is
then truncated and reloaded in one transaction. "Something" is:

- any entry of ``pg_depend`` referring to the table other than its own row
  type, its TOAST table, its primary key (and, from PostgreSQL 18, the NOT NULL
  constraints of the key's columns): views, rules, SQL-body functions, foreign
  keys either way, other constraints and indexes, triggers, policies, defaults,
  identity and serial sequences, extended statistics, publications,
  inheritance and partitions...;
- what is set on the table or its columns without an entry there: grants
  (table or column), row security, options, persistence (``UNLOGGED``), replica
  identity, a tablespace, an access method or a row type of its own, another
  owner, comments, security labels, a NOT NULL outside the key, a collation,
  storage, compression or statistics target other than the type's default.
"""

from __future__ import annotations

from typing import Any

import psycopg

_KEEPS = """
SELECT c.relacl IS NOT NULL
    OR c.reloptions IS NOT NULL
    OR c.relrowsecurity
    OR c.relforcerowsecurity
    OR c.relkind <> 'r'
    OR c.relpersistence <> 'p'
    OR c.relreplident <> 'd'
    OR c.reltablespace <> 0
    OR c.reloftype <> 0
    OR c.relam IS DISTINCT FROM (SELECT a.oid FROM pg_am a
                                 WHERE a.amname = current_setting('default_table_access_method'))
    OR NOT pg_has_role(current_user, c.relowner, 'MEMBER')
    OR EXISTS (SELECT 1 FROM pg_depend d
               WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
                 AND NOT (d.classid = 'pg_type'::regclass AND d.objid = c.reltype)
                 AND NOT (d.classid = 'pg_class'::regclass AND d.objid = c.reltoastrelid)
                 AND NOT (d.classid = 'pg_constraint'::regclass AND d.objid IN (
                     SELECT k.oid FROM pg_constraint k
                     WHERE k.conrelid = c.oid AND (k.contype = 'p' OR (k.contype = 'n'
                         AND k.conkey <@ (SELECT p.conkey FROM pg_constraint p
                                          WHERE p.conrelid = c.oid AND p.contype = 'p'))))))
    OR EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                 AND (a.attacl IS NOT NULL
                      -- PostgreSQL's own column options (a patched server may add others)
                      OR EXISTS (SELECT 1 FROM unnest(a.attoptions) AS o
                                 WHERE o LIKE 'n!_distinct%%' ESCAPE '!')
                      OR a.attidentity <> ''
                      OR a.attgenerated <> ''
                      OR a.attcollation <> t.typcollation
                      OR a.attstorage <> t.typstorage
                      OR COALESCE(a.attstattarget, -1) <> -1
                      -- attcompression came with PostgreSQL 14
                      OR COALESCE(to_jsonb(a) ->> 'attcompression', '') <> ''
                      OR (a.attnotnull AND NOT EXISTS (
                          SELECT 1 FROM pg_constraint p
                          WHERE p.conrelid = c.oid AND p.contype = 'p'
                            AND a.attnum = ANY (p.conkey)))))
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
    OR EXISTS (SELECT 1 FROM pg_seclabel l
               WHERE l.classoid = 'pg_class'::regclass AND l.objoid = c.oid)
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

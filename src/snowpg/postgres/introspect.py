"""What exists in the target PostgreSQL database: schemas, tables, columns, secondary indexes.

Every query binds the names as parameters and compares them with the catalogs' exact names, so a
name is found exactly as it is spelled (``"Payer Id"`` and ``payer_id`` are different tables).
Queries run in the caller's transaction; nothing here commits. Driver errors become
:class:`~snowpg.errors.TargetError` / :class:`~snowpg.errors.TargetUnavailable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, LiteralString

import psycopg

from snowpg.model import TargetColumn
from snowpg.postgres.connection import translate_pg_error

# Relation kinds snowpg can COPY into: ordinary, partitioned and foreign tables.
_TABLE_KINDS = ["r", "p", "f"]

_TABLE_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND c.relkind = ANY(%(kinds)s)
  AND a.attnum > 0 AND NOT a.attisdropped
  -- generated columns cannot be written by COPY, so they are never a load target
  AND a.attgenerated = ''
ORDER BY a.attnum
"""

_TABLE_EXISTS = """
SELECT EXISTS (
  SELECT 1 FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND c.relkind = ANY(%(kinds)s)
)
"""

_SCHEMA_EXISTS = """
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %(schema)s)
"""

# Indexes behind a constraint (primary key, unique, exclusion, or one a foreign key relies on)
# stay: dropping them would drop or break the constraint.
_SECONDARY_INDEXES = """
SELECT ic.relname, pg_catalog.pg_get_indexdef(i.indexrelid)
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relname = %(table)s
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY ic.relname
"""


@dataclass(frozen=True)
class IndexDef:
    name: str
    definition: str  # pg_get_indexdef() text: a complete CREATE INDEX statement


def _rows(
    conn: psycopg.Connection[Any], query: LiteralString, params: dict[str, Any], what: str
) -> Sequence[tuple[Any, ...]]:
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()
    except psycopg.Error as exc:
        raise translate_pg_error(exc, context=f"reading the PostgreSQL catalog for {what}") from exc


def table_columns(
    conn: psycopg.Connection[Any], schema: str, table: str
) -> list[TargetColumn] | None:
    """The writable columns of ``schema.table`` in order, or None when there is no such table."""
    params = {"schema": schema, "table": table, "kinds": _TABLE_KINDS}
    rows = _rows(conn, _TABLE_COLUMNS, params, f"{schema}.{table}")
    if not rows and not table_exists(conn, schema, table):
        return None
    return [TargetColumn(name=r[0], pg_type=r[1], nullable=bool(r[2])) for r in rows]


def table_exists(conn: psycopg.Connection[Any], schema: str, table: str) -> bool:
    params = {"schema": schema, "table": table, "kinds": _TABLE_KINDS}
    rows = _rows(conn, _TABLE_EXISTS, params, f"{schema}.{table}")
    return bool(rows[0][0])


def schema_exists(conn: psycopg.Connection[Any], schema: str) -> bool:
    rows = _rows(conn, _SCHEMA_EXISTS, {"schema": schema}, f"schema {schema}")
    return bool(rows[0][0])


def secondary_indexes(conn: psycopg.Connection[Any], schema: str, table: str) -> list[IndexDef]:
    """Indexes of ``schema.table`` that no constraint uses, by name; empty if no such table."""
    rows = _rows(conn, _SECONDARY_INDEXES, {"schema": schema, "table": table}, f"{schema}.{table}")
    return [IndexDef(name=r[0], definition=r[1]) for r in rows]

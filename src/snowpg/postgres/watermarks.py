"""The target's high-water mark: ``max(target_watermark)`` as text Snowflake casts back.

Timestamps are written ``YYYY-MM-DD HH24:MI:SS.US`` (UTC for ``timestamptz``), dates
``YYYY-MM-DD``, anything else by its text cast.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from snowpg.errors import ConfigError
from snowpg.postgres import ddl, introspect


def max_expr(column: str, pg_type: str) -> sql.Composable:
    """``max(column)`` written as text Snowflake reads back for a column of ``pg_type``."""
    ident = sql.Identifier(column)
    if pg_type.startswith("timestamp") and "with time zone" in pg_type:
        return sql.SQL("to_char(max({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')").format(
            ident
        )
    if pg_type.startswith("timestamp"):
        return sql.SQL("to_char(max({}), 'YYYY-MM-DD HH24:MI:SS.US')").format(ident)
    if pg_type == "date":
        return sql.SQL("to_char(max({}), 'YYYY-MM-DD')").format(ident)
    return sql.SQL("max({})::text").format(ident)


def max_watermark_query(schema: str, table: str, column: str, pg_type: str) -> sql.Composed:
    return sql.SQL("SELECT {} FROM {}.{}").format(
        max_expr(column, pg_type), sql.Identifier(schema), sql.Identifier(table)
    )


def max_watermark(pg: Any, schema: str, table: str, column: str) -> str | None:
    """``max(column)`` of the target table, or None when it holds no value."""
    cols = introspect.table_columns(pg, schema, table) or []
    found = [c for c in cols if c.name == column]
    if not found:
        raise ConfigError(
            f"target_watermark {column!r} is not a column of {schema}.{table}",
            table=table,
            field="target_watermark",
        )
    row = pg.execute(max_watermark_query(schema, table, column, found[0].pg_type)).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def table_is_empty(pg: Any, schema: str, table: str) -> bool:
    """True when the target table is missing or has no row."""
    if not introspect.table_exists(pg, schema, table):
        return True
    row = pg.execute(ddl.table_has_rows(schema, table)).fetchone()
    return not (row and row[0])

"""PostgreSQL statements snowpg runs on target tables, composed with ``psycopg.sql``. Pure.

Names always go through :class:`psycopg.sql.Identifier`, so any table or column name (spaces,
quotes, semicolons) is quoted rather than read as SQL. Column types are the one piece of SQL text
taken from a string: they must match an allow-list of the spellings ``snowpg.plan.typemap`` (or
PostgreSQL's ``format_type``) produces, so a type string can never carry other SQL.

``stmt.as_string(None)`` renders any of these for tests and ``--dry-run`` output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from psycopg import sql

from snowpg.sqltext import PG_MAX_IDENTIFIER_BYTES

COPY_FORMATS = ("csv", "text", "binary")

_TYPE_RE = re.compile(
    r"""^(?:
        smallint | integer | bigint | real | double\ precision
      | numeric(?:\(\d{1,4}(?:,\d{1,4})?\))?
      | text | varchar\(\d{1,8}\) | character\ varying(?:\(\d{1,8}\))?
      | bytea | boolean | date | jsonb | json | uuid
      | time(?:\(\d\))?(?:\ with(?:out)?\ time\ zone)?
      | timestamp(?:\(\d\))?(?:\ with(?:out)?\ time\ zone)? | timestamptz(?:\(\d\))?
    )$""",
    re.VERBOSE,
)


def _ident(name: str, what: str) -> sql.Identifier:
    # PostgreSQL would silently cut a longer name, and then nothing could find it by name.
    if not name or len(name.encode("utf-8")) > PG_MAX_IDENTIFIER_BYTES or "\x00" in name:
        raise ValueError(
            f"{what} name {name!r} is not a valid PostgreSQL identifier (1-63 bytes, no NUL)"
        )
    return sql.Identifier(name)


def _table(schema: str, name: str, what: str = "table") -> sql.Composed:
    return sql.Composed([_ident(schema, "schema"), sql.SQL("."), _ident(name, what)])


def check_pg_type(pg_type: str) -> str:
    """``pg_type`` if it is an allowed type spelling, else ValueError."""
    if not _TYPE_RE.match(pg_type):
        raise ValueError(f"refusing column type {pg_type!r}: not a type spelling snowpg creates")
    return pg_type


def create_schema(schema: str) -> sql.Composed:
    return sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(_ident(schema, "schema"))


def create_table(
    schema: str,
    table: str,
    columns: Sequence[tuple[str, str, bool]],
    primary_key: Sequence[str] = (),
) -> sql.Composed:
    """``CREATE TABLE IF NOT EXISTS`` with ``(name, pg_type, nullable)`` columns."""
    if not columns:
        raise ValueError(f"table {schema}.{table} needs at least one column")
    names = [c[0] for c in columns]
    missing = [k for k in primary_key if k not in names]
    if missing:
        raise ValueError(f"primary key columns {missing} are not columns of {schema}.{table}")
    parts: list[sql.Composable] = []
    for name, pg_type, nullable in columns:
        col = sql.SQL("{} {}").format(_ident(name, "column"), sql.SQL(check_pg_type(pg_type)))
        parts.append(col if nullable else sql.SQL("{} NOT NULL").format(col))
    if primary_key:
        keys = sql.SQL(", ").join(_ident(k, "column") for k in primary_key)
        parts.append(sql.SQL("PRIMARY KEY ({})").format(keys))
    return sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
        _table(schema, table), sql.SQL(", ").join(parts)
    )


def truncate_table(schema: str, table: str) -> sql.Composed:
    return sql.SQL("TRUNCATE TABLE {}").format(_table(schema, table))


def table_has_rows(schema: str, table: str) -> sql.Composed:
    """One boolean row: does the table hold any row (without counting them all)."""
    return sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(_table(schema, table))


def count_rows(schema: str, table: str) -> sql.Composed:
    return sql.SQL("SELECT count(*) FROM {}").format(_table(schema, table))


def copy_from_stdin(
    schema: str, table: str, columns: Sequence[str], fmt: str = "csv"
) -> sql.Composed:
    """``COPY "s"."t" ("a", "b") FROM STDIN (FORMAT fmt)``."""
    if fmt not in COPY_FORMATS:
        raise ValueError(f"COPY format {fmt!r} is not one of {', '.join(COPY_FORMATS)}")
    if not columns:
        raise ValueError(f"COPY into {schema}.{table} needs at least one column")
    cols = sql.SQL(", ").join(_ident(c, "column") for c in columns)
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {})").format(
        _table(schema, table), cols, sql.SQL(fmt)
    )


def drop_index(schema: str, index_name: str) -> sql.Composed:
    return sql.SQL("DROP INDEX IF EXISTS {}").format(_table(schema, index_name, "index"))

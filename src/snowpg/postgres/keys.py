"""Keys Snowflake declares but does not enforce, made real in PostgreSQL. Caller's transaction.

Snowflake's PRIMARY KEY and UNIQUE constraints are informational, so a source may hold several
rows with one key. A table snowpg creates is loaded without its key and gets it afterwards
(:mod:`snowpg.run.keys`):

* :func:`add_primary_key` tries ``ALTER TABLE ... ADD PRIMARY KEY`` under a savepoint; PostgreSQL's
  own index build is the duplicate check, so a clean table costs one index build and nothing else;
* when that fails on a duplicate (or a NULL key), :func:`find_duplicates` counts them in one
  ``GROUP BY key HAVING count(*) > 1`` pass and :func:`create_key_index` builds a plain index on
  the key columns instead, so lookups by key stay fast and no row is lost;
* tables that are upserted on their keys keep one row per key: :func:`drop_duplicates` (a whole
  table after its first load) and :func:`drop_stage_duplicates` (one chunk's staged rows) delete
  the others by the rule in :func:`_keep_order`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

log = logging.getLogger("snowpg.postgres.keys")

SAMPLE_KEYS = 5  # duplicated key values named in the report


@dataclass(frozen=True)
class Duplicates:
    """Rows sharing a key: how many key values, how many rows beyond one per value, examples."""

    key_values: int = 0
    extra_rows: int = 0
    null_key_rows: int = 0  # rows with a NULL in a key column (a primary key refuses them too)
    samples: tuple[tuple[str | None, ...], ...] = field(default_factory=tuple)

    @property
    def any(self) -> bool:
        return bool(self.extra_rows or self.null_key_rows)


def _table(schema: str, table: str) -> sql.Composed:
    return sql.Composed([sql.Identifier(schema), sql.SQL("."), sql.Identifier(table)])


def _idents(names: Sequence[str], alias: str | None = None) -> sql.Composed:
    if alias:
        return sql.SQL(", ").join(sql.Identifier(alias, n) for n in names)
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _not_null(names: Sequence[str], alias: str | None = None) -> sql.Composed:
    cols = [sql.Identifier(alias, n) if alias else sql.Identifier(n) for n in names]
    return sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(c) for c in cols)


def index_name(table: str, suffix: str) -> str:
    """``<table>_<suffix>``, the table part cut so the name fits PostgreSQL's 63 bytes."""
    return f"{table.encode('utf-8')[:50].decode('utf-8', 'ignore')}_{suffix}"


def has_primary_key(conn: psycopg.Connection[Any], schema: str, table: str) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s AND k.contype = 'p')",
        (schema, table),
    ).fetchone()
    return bool(row and row[0])


def add_primary_key(
    conn: psycopg.Connection[Any], schema: str, table: str, columns: Sequence[str]
) -> bool:
    """Add the primary key; False (and nothing changed) when duplicates or NULL keys refuse it.

    True also when the table already has a primary key, so a resumed finish is harmless.
    """
    if has_primary_key(conn, schema, table):
        return True
    stmt = sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
        _table(schema, table), _idents(columns)
    )
    conn.execute("SAVEPOINT snowpg_add_key")
    try:
        conn.execute(stmt)
    except (pg_errors.UniqueViolation, pg_errors.NotNullViolation):
        conn.execute("ROLLBACK TO SAVEPOINT snowpg_add_key")
        return False
    conn.execute("RELEASE SAVEPOINT snowpg_add_key")
    return True


def find_duplicates(
    conn: psycopg.Connection[Any], schema: str, table: str, columns: Sequence[str]
) -> Duplicates:
    """Count the duplicated key values and rows with a NULL key: one grouping, one NULL scan."""
    target = _table(schema, table)
    keys = _idents(columns)
    sample = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns)
    row = conn.execute(
        sql.SQL(
            "WITH g AS MATERIALIZED (SELECT {keys}, count(*) AS n FROM {t} WHERE {nn}"
            " GROUP BY {keys} HAVING count(*) > 1)"
            " SELECT (SELECT count(*) FROM g), (SELECT coalesce(sum(n - 1), 0) FROM g),"
            " (SELECT count(*) FROM {t} WHERE NOT ({nn})),"
            " (SELECT coalesce(json_agg(json_build_array({sample}) ORDER BY n DESC, {keys}),"
            " '[]') FROM (SELECT * FROM g ORDER BY n DESC, {keys} LIMIT {limit}) s)"
        ).format(
            keys=keys,
            t=target,
            nn=_not_null(columns),
            sample=sample,
            limit=sql.Literal(SAMPLE_KEYS),
        )
    ).fetchone()
    assert row is not None
    return Duplicates(
        key_values=int(row[0]),
        extra_rows=int(row[1]),
        null_key_rows=int(row[2]),
        samples=tuple(tuple(s) for s in row[3]),
    )


def create_key_index(
    conn: psycopg.Connection[Any], schema: str, table: str, columns: Sequence[str]
) -> str:
    """A plain (non-unique) index on the key columns; its name. Idempotent."""
    return _create_index(conn, schema, table, columns, "snowpg_key", unique=False)


def create_unique_index(
    conn: psycopg.Connection[Any], schema: str, table: str, columns: Sequence[str]
) -> str:
    """The unique index ON CONFLICT needs (``<table>_snowpg_keys``); its name. Idempotent."""
    return _create_index(conn, schema, table, columns, "snowpg_keys", unique=True)


def _create_index(
    conn: psycopg.Connection[Any],
    schema: str,
    table: str,
    columns: Sequence[str],
    suffix: str,
    *,
    unique: bool,
) -> str:
    name = index_name(table, suffix)
    kind = "UNIQUE INDEX" if unique else "INDEX"
    conn.execute(
        sql.SQL("CREATE " + kind + " IF NOT EXISTS {} ON {} ({})").format(
            sql.Identifier(name), _table(schema, table), _idents(columns)
        )
    )
    return name


def _keep_order(alias: str, watermark: str | None) -> sql.Composed:
    """Which row of a key is kept: the greatest watermark (NULL lowest), then the greatest row
    text, so the choice never depends on the order rows arrived in."""
    parts: list[sql.Composable] = []
    if watermark:
        parts.append(sql.SQL("{} DESC NULLS LAST").format(sql.Identifier(alias, watermark)))
    parts.append(sql.SQL("{}::text DESC").format(sql.Identifier(alias)))
    return sql.SQL(", ").join(parts)


def _drop_extra(
    conn: psycopg.Connection[Any], target: sql.Composed, columns: Sequence[str], wm: str | None
) -> Duplicates:
    ranked = sql.SQL(
        "SELECT x.ctid AS id, row_number() OVER (PARTITION BY {keys} ORDER BY {order}) AS rn,"
        " count(*) OVER (PARTITION BY {keys}) AS n FROM {t} x WHERE {nn}"
    ).format(
        keys=_idents(columns, "x"),
        order=_keep_order("x", wm),
        t=target,
        nn=_not_null(columns, "x"),
    )
    # Only tables whose key is duplicated pay for the window sort: the check is a hash grouping.
    found = conn.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {} GROUP BY {} HAVING count(*) > 1)").format(
            target, _not_null(columns), _idents(columns)
        )
    ).fetchone()
    if not (found and found[0]):
        return Duplicates()
    row = conn.execute(
        sql.SQL(
            "WITH r AS MATERIALIZED ({r}), gone AS (DELETE FROM {t} WHERE ctid IN"
            " (SELECT id FROM r WHERE rn > 1) RETURNING 1)"
            " SELECT (SELECT count(*) FROM r WHERE rn = 1 AND n > 1), (SELECT count(*) FROM gone)"
        ).format(r=ranked, t=target)
    ).fetchone()
    assert row is not None
    return Duplicates(key_values=int(row[0]), extra_rows=int(row[1]))


def drop_duplicates(
    conn: psycopg.Connection[Any],
    schema: str,
    table: str,
    columns: Sequence[str],
    watermark: str | None,
) -> Duplicates:
    """Keep one row per non-NULL key in the table (see :func:`_keep_order`); what was dropped."""
    return _drop_extra(conn, _table(schema, table), columns, watermark)


def drop_stage_duplicates(
    conn: psycopg.Connection[Any], stage: tuple[str, str], columns: Sequence[str], wm: str | None
) -> Duplicates:
    """The same rule over a chunk's staging table, before it is merged."""
    return _drop_extra(conn, _table(*stage), columns, wm)

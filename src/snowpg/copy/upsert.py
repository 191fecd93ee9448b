"""Incremental chunk writes: COPY into a staging table, then one set-based merge per chunk.

Everything runs inside the chunk's transaction (the worker commits it with the chunk's
``completed`` mark), so a chunk's upsert or delete check happens exactly once:

* the chunk's rows are COPYed into ``pg_temp.snowpg_stage`` (``LIKE`` the target, ``ON COMMIT
  DROP``);
* smart mode: when none of the staged keys exists in the target, the rows are inserted straight
  from staging; otherwise one ``INSERT ... ON CONFLICT (keys) DO UPDATE`` (``DO NOTHING`` in
  insert-only mode) merges them — never row by row;
* a delete-check chunk COPYs the source's keys of one key range into ``pg_temp.snowpg_keys`` and
  deletes (or flags) the target rows of that range whose key is not among them.

ON CONFLICT needs a unique index on the keys: :func:`prepare_target` makes one when the target has
none (``<table>_snowpg_keys``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from snowpg.copy import encode, writer
from snowpg.model import ChunkRange, SourceTable, TablePlan
from snowpg.source import reader
from snowpg.source import sql as source_sql
from snowpg.target import ddl

log = logging.getLogger("snowpg.copy.upsert")

STAGE = "snowpg_stage"
KEYS = "snowpg_keys"

# Snowflake key types -> the PostgreSQL type a delete check casts range bounds to.
_PG_BOUND_TYPES = {
    "DATE": "date",
    **{t: "numeric" for t in ("NUMBER", "DECIMAL", "NUMERIC", "INT", "INTEGER", "BIGINT")},
    **{t: "numeric" for t in ("SMALLINT", "TINYINT", "BYTEINT")},
    **{t: "text" for t in ("TEXT", "VARCHAR", "STRING", "CHAR", "CHARACTER")},
}


@dataclass(frozen=True)
class UpsertSpec:
    """How the chunks of one incremental table are written (from its status metadata)."""

    source_keys: tuple[str, ...]
    target_keys: tuple[str, ...]
    insert_only: bool
    initial: bool  # the target was empty at plan time: plain COPY is exact
    base_filter: str | None
    delete_mode: str = "delete"
    flag_column: str | None = None
    delete_from: int | None = None  # chunk ids from here on are delete checks

    @property
    def merges(self) -> bool:
        return bool(self.target_keys) and not self.initial


def spec_from_metadata(metadata: dict[str, Any]) -> UpsertSpec | None:
    inc = metadata.get("incremental")
    if not isinstance(inc, dict):
        return None
    delete_from = inc.get("delete_from")
    return UpsertSpec(
        source_keys=tuple(inc.get("source_keys") or ()),
        target_keys=tuple(inc.get("target_keys") or ()),
        insert_only=bool(inc.get("insert_only")),
        initial=bool(inc.get("initial")),
        base_filter=inc.get("base_filter"),
        delete_mode=str(inc.get("delete_mode") or "delete"),
        flag_column=inc.get("flag_column"),
        delete_from=int(delete_from) if delete_from is not None else None,
    )


def is_delete_check(spec: UpsertSpec | None, chunk_id: int) -> bool:
    return spec is not None and spec.delete_from is not None and chunk_id >= spec.delete_from


def _table(schema: str, table: str) -> sql.Composed:
    return sql.Composed([sql.Identifier(schema), sql.SQL("."), sql.Identifier(table)])


def _idents(names: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


# preparing the target ------------------------------------------------------------------------
def prepare_target(conn: psycopg.Connection[Any], plan: TablePlan) -> None:
    """Unique index on the keys and the deleted flag column; in the caller's transaction."""
    inc = plan.incremental or {}
    keys = list(inc.get("target_keys") or ())
    target = _table(plan.target_schema, plan.target_table)
    flag = inc.get("flag_column")
    if flag and inc.get("detect_deletes"):
        conn.execute(
            sql.SQL(
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} boolean NOT NULL DEFAULT false"
            ).format(target, sql.Identifier(flag))
        )
    if not keys or has_unique_index(conn, plan.target_schema, plan.target_table, keys):
        return
    name = f"{plan.target_table[:50]}_snowpg_keys"
    conn.execute(
        sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({})").format(
            sql.Identifier(name), target, _idents(keys)
        )
    )
    log.info("created unique index %s on %s.%s", name, plan.target_schema, plan.target_table)


def has_unique_index(
    conn: psycopg.Connection[Any], schema: str, table: str, keys: Sequence[str]
) -> bool:
    """Is there a unique index (or primary key) on exactly these columns, without predicate."""
    row = conn.execute(
        """
        SELECT EXISTS (
          SELECT 1 FROM pg_index i
            JOIN pg_class c ON c.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = %s AND c.relname = %s AND i.indisunique AND i.indpred IS NULL
             AND i.indexprs IS NULL
             AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
                    FROM pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attnum = ANY(i.indkey))
                 = (SELECT array_agg(k ORDER BY k) FROM unnest(%s::text[]) k)
             AND i.indnkeyatts = cardinality(%s::text[]))
        """,
        (schema, table, list(keys), list(keys)),
    ).fetchone()
    return bool(row and row[0])


# upsert chunks -------------------------------------------------------------------------------
def copy_target(
    conn: psycopg.Connection[Any], spec: UpsertSpec | None, schema: str, table: str
) -> tuple[str, str]:
    """Where a chunk's COPY goes: the target itself, or a fresh staging table for a merge."""
    if spec is None or not spec.merges:
        return schema, table
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
            sql.Identifier(STAGE), _table(schema, table)
        )
    )
    return "pg_temp", STAGE


def merge_chunk(
    conn: psycopg.Connection[Any],
    spec: UpsertSpec | None,
    schema: str,
    table: str,
    columns: Sequence[str],
) -> str:
    """Move the staged chunk into the target; returns the mode used ("copy", "insert", ...)."""
    if spec is None or not spec.merges:
        return "copy"
    target = _table(schema, table)
    stage = _table("pg_temp", STAGE)
    cols = list(columns)
    flag = spec.flag_column
    insert_cols = _idents([*cols, flag] if flag else cols)
    select_cols = sql.SQL(", ").join(
        [*(sql.Identifier(c) for c in cols), *([sql.SQL("false")] if flag else [])]
    )
    any_existing = conn.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} t JOIN {} s USING ({}))").format(
            target, stage, _idents(spec.target_keys)
        )
    ).fetchone()
    insert = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
        target, insert_cols, select_cols, stage
    )
    if not (any_existing and any_existing[0]):
        conn.execute(insert)
        return "insert"
    updates = [c for c in cols if c not in spec.target_keys]
    if spec.insert_only or (not updates and not flag):
        action: sql.Composable = sql.SQL("DO NOTHING")
        mode = "insert-only" if spec.insert_only else "upsert"
    else:
        sets = [sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in updates]
        if flag:
            sets.append(sql.SQL("{} = false").format(sql.Identifier(flag)))
        action = sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(sets))
        mode = "upsert"
    conn.execute(
        sql.SQL("{} ON CONFLICT ({}) {}").format(insert, _idents(spec.target_keys), action)
    )
    return mode


# delete checks -------------------------------------------------------------------------------
def _pg_range(spec: UpsertSpec, rng: ChunkRange) -> sql.Composable:
    """The chunk's key range over the target (alias t), the same rows Snowflake's range holds."""
    if not rng.columns:
        return sql.SQL("TRUE")
    names = dict(zip(spec.source_keys, spec.target_keys, strict=True))
    exprs: list[sql.Composable] = []
    kinds: list[str] = []
    for col, sf_type in zip(rng.columns, rng.types, strict=True):
        kind = _PG_BOUND_TYPES.get(sf_type.split("(", 1)[0].strip().upper())
        if kind is None:
            raise ValueError(f"delete check: unsupported key type {sf_type}")
        ident = sql.Identifier("t", names[col])
        exprs.append(sql.SQL('{} COLLATE "C"').format(ident) if kind == "text" else ident)
        kinds.append(kind)
    if rng.nulls:
        return sql.SQL("FALSE")  # rows with a NULL key cannot be matched by key; left alone
    parts: list[sql.Composable] = [sql.SQL("{} IS NOT NULL").format(e) for e in exprs]

    def values(bound: Sequence[str]) -> list[sql.Composable]:
        return [
            sql.SQL("CAST({} AS {})").format(sql.Literal(v), sql.SQL(k))
            for v, k in zip(bound, kinds, strict=True)
        ]

    def lexi(vals: list[sql.Composable], strict: str, last: str) -> sql.Composable:
        acc: sql.Composable = sql.SQL("{} " + last + " {}").format(exprs[-1], vals[-1])
        for e, v in zip(reversed(exprs[:-1]), reversed(vals[:-1]), strict=True):
            acc = sql.SQL("({0} " + strict + " {1} OR ({0} = {1} AND {2}))").format(e, v, acc)
        return sql.SQL("({})").format(acc)

    if rng.lower is not None:
        parts.append(lexi(values(rng.lower), ">", ">="))
    if rng.upper is not None:
        parts.append(lexi(values(rng.upper), "<", "<"))
    return sql.SQL(" AND ").join(parts)


def delete_chunk(
    conn: psycopg.Connection[Any],
    sf: Any,
    spec: UpsertSpec,
    source: SourceTable,
    schema: str,
    table: str,
    rng: ChunkRange,
) -> writer.CopyResult:
    """Remove (or flag) target rows in ``rng`` whose key the source no longer has.

    Only this key range's source keys are held (in a temp table), never the whole key set.
    """
    query, params = source_sql.select_chunk_sql(source, spec.source_keys, spec.base_filter, rng)
    target = _table(schema, table)
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(KEYS), _idents(spec.target_keys), target
        )
    )
    copy_stmt = ddl.copy_from_stdin("pg_temp", KEYS, spec.target_keys, encode.copy_sql_format())
    with conn.cursor() as cur:
        staged = writer.write_batches(cur, copy_stmt, reader.read_chunk(sf, query, params))
    match = sql.SQL(" AND ").join(
        sql.SQL("k.{0} = t.{0}").format(sql.Identifier(k)) for k in spec.target_keys
    )
    gone = sql.SQL("{} AND NOT EXISTS (SELECT 1 FROM {} k WHERE {})").format(
        _pg_range(spec, rng), _table("pg_temp", KEYS), match
    )
    if spec.delete_mode == "flag" and spec.flag_column:
        flag = sql.Identifier(spec.flag_column)
        stmt = sql.SQL("UPDATE {} t SET {} = true WHERE {} IS NOT TRUE AND {}").format(
            target, flag, flag, gone
        )
    else:
        stmt = sql.SQL("DELETE FROM {} t WHERE {}").format(target, gone)
    with conn.cursor() as cur:
        cur.execute(stmt)
        removed = max(cur.rowcount, 0)
    if removed:
        log.info(
            "%s.%s: %d row(s) gone from the source %s",
            schema,
            table,
            removed,
            "flagged" if spec.delete_mode == "flag" else "deleted",
        )
    return writer.CopyResult(rows=0, bytes=staged.bytes)

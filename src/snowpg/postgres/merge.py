"""The PostgreSQL statements of incremental loads: key indexes, staging, merges, delete checks.

Every statement runs in the caller's transaction (the chunk's, which the worker commits with the
chunk's ``completed`` mark); none commits. Which of them a chunk needs is decided in
:mod:`snowpg.copy.upsert`:

* :func:`create_stage` makes ``pg_temp.snowpg_stage`` (``LIKE`` the target, ``ON COMMIT DROP``)
  for a chunk's COPY; :func:`merge_staged` moves it into the target: a plain ``INSERT`` when none
  of the staged keys exists there yet, else one ``INSERT ... ON CONFLICT (keys) DO UPDATE`` (``DO
  NOTHING`` insert-only) — never row by row;
* :func:`create_keys_table` makes ``pg_temp.snowpg_keys`` for a delete check's source keys, and
  :func:`delete_missing` deletes (or flags) the target rows of the chunk's key range
  (:func:`key_range`) whose key is not among them;
* :func:`prepare_target` gives ON CONFLICT the unique index it needs when the target has none
  (``<table>_snowpg_keys``), and adds the deleted flag column.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from snowpg.model import ChunkRange, TablePlan
from snowpg.typefamilies import DATE_TYPES, FIXED_TYPES, TEXT_TYPES, base_type

log = logging.getLogger("snowpg.postgres.merge")

STAGE = "snowpg_stage"
KEYS = "snowpg_keys"

# Snowflake key types -> the PostgreSQL type a delete check casts range bounds to.
_PG_BOUND_TYPES = {
    **{t: "numeric" for t in FIXED_TYPES},
    **{t: "text" for t in TEXT_TYPES},
    **{t: "date" for t in DATE_TYPES},
}


def _table(schema: str, table: str) -> sql.Composed:
    return sql.Composed([sql.Identifier(schema), sql.SQL("."), sql.Identifier(table)])


def _idents(names: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


# preparing the target ------------------------------------------------------------------------
def prepare_target(
    conn: psycopg.Connection[Any], plan: TablePlan, *, unique_index: bool = True
) -> None:
    """Unique index on the keys (unless ``unique_index`` is False: a table snowpg creates gets it
    after its first load, snowpg.run.keys) and the deleted flag column; caller's transaction."""
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
    if not unique_index or not keys:
        return
    if has_unique_index(conn, plan.target_schema, plan.target_table, keys):
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


# staging and merging -------------------------------------------------------------------------
def create_stage(conn: psycopg.Connection[Any], schema: str, table: str) -> tuple[str, str]:
    """A fresh staging table like the target, dropped at commit; its (schema, name)."""
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
            sql.Identifier(STAGE), _table(schema, table)
        )
    )
    return "pg_temp", STAGE


def merge_staged(
    conn: psycopg.Connection[Any],
    schema: str,
    table: str,
    columns: Sequence[str],
    keys: Sequence[str],
    *,
    insert_only: bool,
    flag_column: str | None,
) -> str:
    """Move the staged rows into the target by ``keys``; the mode used ("insert", "upsert", ...).

    With ``flag_column`` the merged rows are marked not deleted.
    """
    target = _table(schema, table)
    stage = _table("pg_temp", STAGE)
    cols = list(columns)
    flag = flag_column
    insert_cols = _idents([*cols, flag] if flag else cols)
    select_cols = sql.SQL(", ").join(
        [*(sql.Identifier(c) for c in cols), *([sql.SQL("false")] if flag else [])]
    )
    any_existing = conn.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} t JOIN {} s USING ({}))").format(
            target, stage, _idents(keys)
        )
    ).fetchone()
    insert = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
        target, insert_cols, select_cols, stage
    )
    if not (any_existing and any_existing[0]):
        conn.execute(insert)
        return "insert"
    updates = [c for c in cols if c not in keys]
    if insert_only or (not updates and not flag):
        action: sql.Composable = sql.SQL("DO NOTHING")
        mode = "insert-only" if insert_only else "upsert"
    else:
        sets = [sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in updates]
        if flag:
            sets.append(sql.SQL("{} = false").format(sql.Identifier(flag)))
        action = sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(sets))
        mode = "upsert"
    conn.execute(sql.SQL("{} ON CONFLICT ({}) {}").format(insert, _idents(keys), action))
    return mode


# delete checks -------------------------------------------------------------------------------
def key_range(
    rng: ChunkRange, source_keys: Sequence[str], target_keys: Sequence[str]
) -> sql.Composable:
    """The chunk's key range over the target (alias t), the same rows Snowflake's range holds."""
    if not rng.columns:
        return sql.SQL("TRUE")
    names = dict(zip(source_keys, target_keys, strict=True))
    exprs: list[sql.Composable] = []
    kinds: list[str] = []
    for col, sf_type in zip(rng.columns, rng.types, strict=True):
        kind = _PG_BOUND_TYPES.get(base_type(sf_type))
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


def create_keys_table(
    conn: psycopg.Connection[Any], schema: str, table: str, keys: Sequence[str]
) -> tuple[str, str]:
    """An empty temp table of the target's ``keys`` columns, dropped at commit; (schema, name)."""
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(KEYS), _idents(keys), _table(schema, table)
        )
    )
    return "pg_temp", KEYS


def delete_missing(
    conn: psycopg.Connection[Any],
    schema: str,
    table: str,
    keys: Sequence[str],
    in_range: sql.Composable,
    *,
    flag_column: str | None,
) -> int:
    """Delete the target rows ``in_range`` whose key is not in the keys table, or set their
    ``flag_column`` when one is given; how many rows that touched."""
    target = _table(schema, table)
    match = sql.SQL(" AND ").join(sql.SQL("k.{0} = t.{0}").format(sql.Identifier(k)) for k in keys)
    gone = sql.SQL("{} AND NOT EXISTS (SELECT 1 FROM {} k WHERE {})").format(
        in_range, _table("pg_temp", KEYS), match
    )
    if flag_column:
        flag = sql.Identifier(flag_column)
        stmt = sql.SQL("UPDATE {} t SET {} = true WHERE {} IS NOT TRUE AND {}").format(
            target, flag, flag, gone
        )
    else:
        stmt = sql.SQL("DELETE FROM {} t WHERE {}").format(target, gone)
    with conn.cursor() as cur:
        cur.execute(stmt)
        return max(cur.rowcount, 0)

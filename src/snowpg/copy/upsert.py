"""Incremental chunk writes: what a chunk of an incremental table does, from its UpsertSpec.

Everything runs inside the chunk's transaction (the worker commits it with the chunk's
``completed`` mark), so a chunk's upsert or delete check happens exactly once:

* a merging table's chunk is COPYed into a staging table, cut to one row per key (Snowflake does
  not enforce keys: :func:`drop_duplicates`) and merged into the target by its keys (smart mode: a
  plain insert when none of the staged keys exists yet);
* a delete-check chunk COPYs the source's keys of one key range into a temp table and deletes (or
  flags) the target rows of that range whose key is not among them.

The statements themselves are PostgreSQL's adapter's, :mod:`snowpg.postgres.merge`; ON CONFLICT
needs a unique index on the keys, which :func:`snowpg.postgres.merge.prepare_target` makes when the
target has none.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from snowpg.copy import encode, writer
from snowpg.model import ChunkRange, SourceTable
from snowpg.postgres import ddl, keys, merge
from snowpg.snowflake import reader, statements

log = logging.getLogger("snowpg.copy.upsert")


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
    watermark_target: str | None = None  # the target column of source_watermark

    @property
    def merges(self) -> bool:
        return bool(self.target_keys) and not self.initial


def spec_from_metadata(metadata: dict[str, Any]) -> UpsertSpec | None:
    inc = metadata.get("incremental")
    if not isinstance(inc, dict):
        return None
    delete_from = inc.get("delete_from")
    to_target = {pair[0]: pair[1] for pair in metadata.get("columns") or ()}
    wm = inc.get("watermark_column")
    return UpsertSpec(
        source_keys=tuple(inc.get("source_keys") or ()),
        target_keys=tuple(inc.get("target_keys") or ()),
        insert_only=bool(inc.get("insert_only")),
        initial=bool(inc.get("initial")),
        base_filter=inc.get("base_filter"),
        delete_mode=str(inc.get("delete_mode") or "delete"),
        flag_column=inc.get("flag_column"),
        delete_from=int(delete_from) if delete_from is not None else None,
        watermark_target=to_target.get(wm) if wm else None,
    )


def is_delete_check(spec: UpsertSpec | None, chunk_id: int) -> bool:
    return spec is not None and spec.delete_from is not None and chunk_id >= spec.delete_from


def copy_target(
    conn: psycopg.Connection[Any], spec: UpsertSpec | None, schema: str, table: str
) -> tuple[str, str]:
    """Where a chunk's COPY goes: the target itself, or a fresh staging table for a merge."""
    if spec is None or not spec.merges:
        return schema, table
    return merge.create_stage(conn, schema, table)


def drop_duplicates(conn: psycopg.Connection[Any], spec: UpsertSpec | None) -> keys.Duplicates:
    """Keep one staged row per key (Snowflake does not enforce keys, so a window may hold two):
    the greatest watermark, ties by the row's text. What was dropped."""
    if spec is None or not spec.merges:
        return keys.Duplicates()
    return keys.drop_stage_duplicates(
        conn, ("pg_temp", merge.STAGE), spec.target_keys, spec.watermark_target
    )


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
    return merge.merge_staged(
        conn,
        schema,
        table,
        columns,
        spec.target_keys,
        insert_only=spec.insert_only,
        flag_column=spec.flag_column,
    )


def _pg_range(spec: UpsertSpec, rng: ChunkRange) -> sql.Composable:
    """The chunk's key range over the target (alias t), the same rows Snowflake's range holds."""
    return merge.key_range(rng, spec.source_keys, spec.target_keys)


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
    query, params = statements.select_chunk_sql(source, spec.source_keys, spec.base_filter, rng)
    keys_table = merge.create_keys_table(conn, schema, table, spec.target_keys)
    copy_stmt = ddl.copy_from_stdin(*keys_table, spec.target_keys, encode.copy_sql_format())
    with conn.cursor() as cur:
        staged = writer.write_batches(cur, copy_stmt, reader.read_chunk(sf, query, params))
    flags = spec.delete_mode == "flag" and spec.flag_column
    removed = merge.delete_missing(
        conn,
        schema,
        table,
        spec.target_keys,
        _pg_range(spec, rng),
        flag_column=spec.flag_column if flags else None,
    )
    if removed:
        log.info(
            "%s.%s: %d row(s) gone from the source %s",
            schema,
            table,
            removed,
            "flagged" if spec.delete_mode == "flag" else "deleted",
        )
    return writer.CopyResult(rows=0, bytes=staged.bytes)

"""Reads and writes of ``migration_status.migration_table_status``: one row per table of a run.

A table is added with its pending chunks in the caller's transaction (the one that also creates
the target table), so a run never holds a table without its chunks. :func:`finish_table` closes
a table once its chunks are done. All functions here are "caller txn": they never commit.
Use these through :mod:`snowpg.status.store`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from snowpg.errors import TargetError
from snowpg.status.rows import TABLE_STATUSES, TableKey, TableRow, table_from
from snowpg.status.schema import Conn, clip, fetch_all, fetch_one, key_params, q


def add_table(
    conn: Conn,
    *,
    run_id: uuid.UUID,
    source_name: str,
    source_database: str,
    source_schema: str,
    source_table: str,
    target_database: str,
    target_schema: str,
    target_table: str,
    chunks: Sequence[tuple[int, dict[str, Any], int]],
    estimated_rows: int,
    chunking_method: str,
    metadata: dict[str, Any],
) -> TableKey:
    """Record a planned table and its pending chunks; caller txn (with the target's DDL).

    ``metadata["ordinal"]`` orders claiming across tables; it defaults to the insertion order.
    """
    key = TableKey(run_id, source_database, source_schema, source_table)
    meta = {"ordinal": _table_count(conn, run_id), **metadata}
    conn.execute(
        q(
            "INSERT INTO {tables} (run_id, source_name, source_database, source_schema,"
            " source_table, target_database, target_schema, target_table, status, total_chunks,"
            " estimated_rows, chunking_method, metadata)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'pending', %s, %s, %s, %s)"
        ),
        (
            run_id, source_name, source_database, source_schema, source_table, target_database,
            target_schema, target_table, len(chunks), estimated_rows, chunking_method, Jsonb(meta),
        ),
    )  # fmt: skip
    with conn.cursor() as cur:
        cur.executemany(
            q(
                "INSERT INTO {chunks} (run_id, source_database, source_schema, source_table,"
                " chunk_id, chunk_range, status, estimated_rows)"
                " VALUES (%s, %s, %s, %s, %s, %s, 'pending', %s)"
            ),
            [
                (run_id, source_database, source_schema, source_table, cid, Jsonb(rng), est)
                for cid, rng, est in chunks
            ],
        )
    _refresh_total_tables(conn, run_id)
    return key


def add_skipped_table(
    conn: Conn,
    *,
    run_id: uuid.UUID,
    source_name: str,
    source_database: str,
    source_schema: str,
    source_table: str,
    target_database: str,
    target_schema: str,
    target_table: str,
    reason: str,
    metadata: dict[str, Any] | None = None,
) -> TableKey:
    """Record a table that will not be copied, with the reason as its message; caller txn."""
    meta = {"ordinal": _table_count(conn, run_id), **(metadata or {}), "skip_reason": reason}
    conn.execute(
        q(
            "INSERT INTO {tables} (run_id, source_name, source_database, source_schema,"
            " source_table, target_database, target_schema, target_table, status, total_chunks,"
            " completed_at, error_message, metadata)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'skipped', 0, LOCALTIMESTAMP, %s, %s)"
        ),
        (
            run_id, source_name, source_database, source_schema, source_table, target_database,
            target_schema, target_table, clip(reason), Jsonb(meta),
        ),
    )  # fmt: skip
    _refresh_total_tables(conn, run_id)
    return TableKey(run_id, source_database, source_schema, source_table)


def _table_count(conn: Conn, run_id: uuid.UUID) -> int:
    row = fetch_one(conn, q("SELECT count(*) AS n FROM {tables} WHERE run_id = %s"), (run_id,))
    return int(row["n"]) if row else 0


def _refresh_total_tables(conn: Conn, run_id: uuid.UUID) -> None:
    conn.execute(
        q(
            "UPDATE {runs} SET total_tables ="
            " (SELECT count(*) FROM {tables} WHERE run_id = %(run)s) WHERE run_id = %(run)s"
        ),
        {"run": run_id},
    )


def table_rows(conn: Conn, run_id: uuid.UUID) -> list[TableRow]:
    """The run's tables in claim order (ordinal, then name)."""
    rows = fetch_all(
        conn,
        q(
            "SELECT * FROM {tables} t WHERE run_id = %s ORDER BY {ordinal} NULLS LAST,"
            " source_database, source_schema, source_table"
        ),
        (run_id,),
    )
    return [table_from(r) for r in rows]


def get_table(conn: Conn, key: TableKey) -> TableRow | None:
    row = fetch_one(conn, q("SELECT * FROM {tables} WHERE {table_where}"), key_params(key))
    return table_from(row) if row else None


def update_table_metadata(conn: Conn, key: TableKey, patch: dict[str, Any]) -> None:
    """Merge ``patch`` into the table's metadata (top-level keys replaced); caller txn."""
    conn.execute(
        q(
            "UPDATE {tables} SET metadata = coalesce(metadata, '{{}}') || %(patch)s"
            " WHERE {table_where}"
        ),
        {**key_params(key), "patch": Jsonb(patch)},
    )


def add_nul_fixed(conn: Conn, key: TableKey, counts: dict[str, int]) -> None:
    """Add per-column counts of NUL-cleaned values to ``metadata.nul_fixed``; caller txn.

    One UPDATE, so concurrent chunks of the table add up (the row lock orders them and each
    reads the committed counts it waited for).
    """
    conn.execute(
        q(
            "UPDATE {tables} SET metadata = jsonb_set(coalesce(metadata, '{{}}'), '{{nul_fixed}}',"
            " coalesce(metadata -> 'nul_fixed', '{{}}') || (SELECT jsonb_object_agg(e.key,"
            " coalesce((metadata -> 'nul_fixed' ->> e.key)::bigint, 0) + e.value::bigint)"
            " FROM jsonb_each_text(%(counts)s) AS e))"
            " WHERE {table_where}"
        ),
        {**key_params(key), "counts": Jsonb(counts)},
    )


def add_metadata_counts(
    conn: Conn, key: TableKey, name: str, counts: dict[str, int], fields: dict[str, Any]
) -> None:
    """Add ``counts`` to the numbers of ``metadata[name]`` and set its other ``fields``; caller
    txn. One UPDATE, so concurrent chunks add up, as in :func:`add_nul_fixed`."""
    conn.execute(
        q(
            "UPDATE {tables} SET metadata = jsonb_set(coalesce(metadata, '{{}}'), ARRAY[%(name)s],"
            " coalesce(metadata -> %(name)s, '{{}}') || %(fields)s || (SELECT jsonb_object_agg("
            "e.key, coalesce((metadata -> %(name)s ->> e.key)::bigint, 0) + e.value::bigint)"
            " FROM jsonb_each_text(%(counts)s) AS e))"
            " WHERE {table_where}"
        ),
        {**key_params(key), "name": name, "counts": Jsonb(counts), "fields": Jsonb(fields)},
    )


def set_indexes_disabled(conn: Conn, key: TableKey, index_defs: list[dict[str, Any]]) -> None:
    """Mark the table's indexes dropped and save their definitions; caller txn."""
    conn.execute(
        q(
            "UPDATE {tables} SET indexes_disabled = true, indexes_restored = false,"
            " metadata = coalesce(metadata, '{{}}') || %(patch)s WHERE {table_where}"
        ),
        {**key_params(key), "patch": Jsonb({"saved_indexes": index_defs})},
    )


def set_indexes_restored(conn: Conn, key: TableKey) -> None:
    """Caller txn (the one that recreated the indexes)."""
    conn.execute(
        q("UPDATE {tables} SET indexes_restored = true WHERE {table_where}"), key_params(key)
    )


def set_table_status(
    conn: Conn, key: TableKey, status: str, error_message: str | None = None
) -> None:
    """Set a table's status and message; caller txn. ``completed``/``skipped`` stamp
    ``completed_at``, ``in_progress`` stamps ``started_at`` once."""
    if status not in TABLE_STATUSES:
        raise ValueError(f"table status must be one of {', '.join(TABLE_STATUSES)}, not {status!r}")
    conn.execute(
        q(
            "UPDATE {tables} SET status = %(status)s::text, error_message = %(error)s,"
            " started_at = CASE WHEN %(status)s::text = 'in_progress'"
            "   THEN coalesce(started_at, LOCALTIMESTAMP) ELSE started_at END,"
            " completed_at = CASE WHEN %(status)s::text IN ('completed', 'skipped')"
            "   THEN coalesce(completed_at, greatest(LOCALTIMESTAMP, started_at)) END"
            " WHERE {table_where}"
        ),
        {**key_params(key), "status": status, "error": clip(error_message)},
    )


def finish_table(conn: Conn, key: TableKey) -> TableRow:
    """Lock the table row, recount its chunks and close it when no chunk is left; caller txn.

    Every chunk completed -> ``completed``; none pending or in progress and some failed ->
    ``failed``. Only a pending/in_progress table changes status, so of concurrent callers exactly
    one sees the transition (and restores indexes). The counters are recomputed from the chunks.
    """
    kp = key_params(key)
    if (
        fetch_one(conn, q("SELECT 1 AS ok FROM {tables} WHERE {table_where} FOR UPDATE"), kp)
        is None
    ):
        raise TargetError(f"table {key.qualified} of run {key.run_id} is not in migration_status")
    row = fetch_one(
        conn,
        q(
            "WITH s AS (SELECT count(*) AS total,"
            "   count(*) FILTER (WHERE status = 'completed') AS done,"
            "   count(*) FILTER (WHERE status = 'failed') AS failed,"
            "   count(*) FILTER (WHERE status IN ('pending', 'in_progress')) AS open,"
            "   coalesce(sum(rows_copied) FILTER (WHERE status = 'completed'), 0) AS rows,"
            "   coalesce(sum(bytes_copied) FILTER (WHERE status = 'completed'), 0) AS bytes"
            "   FROM {chunks} WHERE {table_where})"
            " UPDATE {tables} t SET completed_chunks = s.done, failed_chunks = s.failed,"
            " total_rows_copied = s.rows, total_bytes = s.bytes,"
            " status = CASE WHEN t.status NOT IN ('pending', 'in_progress') THEN t.status"
            "   WHEN s.done = s.total THEN 'completed'"
            "   WHEN s.open = 0 AND s.failed > 0 THEN 'failed' ELSE t.status END,"
            " completed_at = CASE WHEN t.status IN ('pending', 'in_progress') AND s.done = s.total"
            "   THEN greatest(LOCALTIMESTAMP, t.started_at) ELSE t.completed_at END"
            " FROM s WHERE {table_where} RETURNING t.*"
        ),
        kp,
    )
    assert row is not None
    return table_from(row)

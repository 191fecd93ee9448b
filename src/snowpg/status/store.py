"""Reads and writes of ``migration_status`` runs and tables; the chunk claim protocol lives in
:mod:`snowpg.status.claims` and is re-exported here, so callers use ``store.<function>`` only.

Functions marked "own txn" commit (and roll back on error); "caller txn" ones never commit.
Times are TIMESTAMP without zone written as LOCALTIMESTAMP, the server's local time, matching the
seed's CURRENT_TIMESTAMP defaults (``lease_expires_at`` alone is UTC, see claims.py).
psycopg errors propagate unchanged; the engine translates them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from snowpg.errors import TargetError
from snowpg.status.claims import (
    DEFAULT_LEASE_SECONDS,
    LostClaim,
    RunAbandoned,
    chunk_status_counts,
    claim_chunk,
    committed_by,
    complete_chunk,
    fail_chunk,
    live_in_progress,
    lock_claim,
    record_retry,
    release_chunk,
    release_owned,
    reset_failed,
    run_abandoned,
    run_status,
)
from snowpg.status.rows import (
    TABLE_STATUSES,
    ChunkRow,
    RunRow,
    TableKey,
    TableRow,
    chunk_from,
    run_from,
    table_from,
)
from snowpg.status.schema import Conn, clip, fetch_all, fetch_one, key_params, own_txn, q

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "LostClaim",
    "RunAbandoned",
    "add_nul_fixed",
    "add_skipped_table",
    "add_table",
    "chunk_status_counts",
    "claim_chunk",
    "committed_by",
    "complete_chunk",
    "create_run",
    "fail_chunk",
    "find_resumable_run",
    "finish_table",
    "get_run",
    "get_table",
    "latest_run",
    "latest_runs",
    "list_chunks",
    "list_tables",
    "live_in_progress",
    "lock_claim",
    "record_retry",
    "release_chunk",
    "release_owned",
    "reset_failed",
    "run_abandoned",
    "run_status",
    "set_indexes_disabled",
    "set_indexes_restored",
    "set_run_status",
    "set_table_status",
    "touch_run",
    "update_table_metadata",
]


# runs --------------------------------------------------------------------------------------


def create_run(
    conn: Conn, *, source_name: str, config_hash: str, created_by: str, metadata: dict[str, Any]
) -> uuid.UUID:
    """Insert a ``running`` run of one source; own txn."""
    with own_txn(conn):
        row = fetch_one(
            conn,
            q(
                "INSERT INTO {runs} (started_at, status, config_hash, total_sources, metadata,"
                " created_by, source_name, heartbeat_at)"
                " VALUES (LOCALTIMESTAMP, 'running', %s, 1, %s, %s, %s, LOCALTIMESTAMP)"
                " RETURNING run_id"
            ),
            (config_hash, Jsonb(metadata), created_by, source_name),
        )
        assert row is not None
        run_id: uuid.UUID = row["run_id"]
    return run_id


def find_resumable_run(
    conn: Conn, source_name: str, max_age_hours: float | None = None
) -> RunRow | None:
    """The newest run of the source, if it is running, partial or failed (and young enough).

    Only the newest run counts: once a later run exists (completed, or started fresh over an
    abandoned one) resuming an older run would copy its chunks into tables it no longer owns.
    """
    run = latest_run(conn, source_name)
    if run is None or run.status not in ("running", "partial", "failed"):
        return None
    if max_age_hours is not None:
        young = fetch_one(
            conn,
            q("SELECT %s >= LOCALTIMESTAMP - make_interval(secs => %s) AS young"),
            (run.started_at, max_age_hours * 3600.0),
        )
        if young is None or not young["young"]:
            return None
    return run


def latest_run(conn: Conn, source_name: str) -> RunRow | None:
    """The newest run of the source, whatever its status."""
    row = fetch_one(
        conn,
        q("SELECT * FROM {runs} WHERE source_name = %s ORDER BY started_at DESC LIMIT 1"),
        (source_name,),
    )
    return run_from(row) if row else None


def get_run(conn: Conn, run_id: uuid.UUID) -> RunRow | None:
    row = fetch_one(conn, q("SELECT * FROM {runs} WHERE run_id = %s"), (run_id,))
    return run_from(row) if row else None


def latest_runs(conn: Conn, limit: int = 20) -> list[RunRow]:
    rows = fetch_all(conn, q("SELECT * FROM {runs} ORDER BY started_at DESC LIMIT %s"), (limit,))
    return [run_from(r) for r in rows]


def set_run_status(
    conn: Conn, run_id: uuid.UUID, status: str, error_message: str | None = None
) -> None:
    """Set the run's status and refresh its table counts and rows from the table rows; own txn."""
    with own_txn(conn):
        conn.execute(
            q(
                "UPDATE {runs} r SET status = %(status)s::text, error_message = %(error)s,"
                " completed_at = CASE WHEN %(status)s::text IN ('completed', 'failed')"
                "   THEN greatest(LOCALTIMESTAMP, r.started_at) END,"
                " heartbeat_at = LOCALTIMESTAMP,"
                " total_tables = s.total, completed_tables = s.completed,"
                " failed_tables = s.failed, total_rows_copied = s.rows"
                " FROM (SELECT count(*) AS total,"
                "   count(*) FILTER (WHERE status = 'completed') AS completed,"
                "   count(*) FILTER (WHERE status = 'failed') AS failed,"
                "   coalesce(sum(total_rows_copied), 0) AS rows"
                "   FROM {tables} WHERE run_id = %(run)s) s"
                " WHERE r.run_id = %(run)s"
            ),
            {"run": run_id, "status": status, "error": clip(error_message)},
        )


def touch_run(conn: Conn, run_id: uuid.UUID) -> None:
    """Heartbeat: ``heartbeat_at = now``; own txn."""
    with own_txn(conn):
        conn.execute(
            q("UPDATE {runs} SET heartbeat_at = LOCALTIMESTAMP WHERE run_id = %s"), (run_id,)
        )


# tables ------------------------------------------------------------------------------------


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


def list_tables(conn: Conn, run_id: uuid.UUID) -> list[TableRow]:
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


def list_chunks(conn: Conn, key: TableKey) -> list[ChunkRow]:
    rows = fetch_all(
        conn, q("SELECT * FROM {chunks} WHERE {table_where} ORDER BY chunk_id"), key_params(key)
    )
    return [chunk_from(r) for r in rows]


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

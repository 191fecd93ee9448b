"""Reads and writes of ``migration_status.migration_runs``: one row per run of one source.

Functions marked "own txn" commit (and roll back on error); "caller txn" ones never commit.
Use these through :mod:`snowpg.status.store`.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from snowpg.status.rows import RunRow, run_from
from snowpg.status.schema import Conn, clip, fetch_all, fetch_one, own_txn, q


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


def latest_run_id(conn: Conn, source_name: str) -> uuid.UUID | None:
    """The id of the newest run of the source (None if it has none); caller txn."""
    row = fetch_one(
        conn,
        q("SELECT run_id FROM {runs} WHERE source_name = %s ORDER BY started_at DESC LIMIT 1"),
        (source_name,),
    )
    return uuid.UUID(str(row["run_id"])) if row else None


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


def run_status(conn: Conn, run_id: uuid.UUID) -> str | None:
    """The run's status now (None if it does not exist); caller txn."""
    row = fetch_one(conn, q("SELECT status FROM {runs} WHERE run_id = %s"), (run_id,))
    return str(row["status"]) if row else None


def run_abandoned(conn: Conn, run_id: uuid.UUID) -> bool:
    """True once a fresh run replaced this run (status 'failed', "abandoned: ..."); caller txn."""
    row = fetch_one(
        conn,
        q("SELECT NOT {not_abandoned} AS gone FROM {runs} r WHERE r.run_id = %s"),
        (run_id,),
    )
    return bool(row and row["gone"])

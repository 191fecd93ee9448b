"""Reads of ``migration_status.migration_chunk_status`` outside the claim protocol: a table's
chunks, a run's chunk counts by status, its live in-progress chunks, its longest chunk.

The writes to chunk rows are the claim protocol's (:mod:`snowpg.status.claims`,
:mod:`snowpg.status.failures`) and verify's (:mod:`snowpg.status.verified`). Use these through
:mod:`snowpg.status.store`.
"""

from __future__ import annotations

import uuid

from snowpg.status.rows import ChunkRow, TableKey, chunk_from
from snowpg.status.schema import Conn, fetch_all, fetch_one, key_params, q


def list_chunks(conn: Conn, key: TableKey) -> list[ChunkRow]:
    rows = fetch_all(
        conn, q("SELECT * FROM {chunks} WHERE {table_where} ORDER BY chunk_id"), key_params(key)
    )
    return [chunk_from(r) for r in rows]


def chunk_status_counts(conn: Conn, run_id: uuid.UUID) -> dict[str, int]:
    counts = {"pending": 0, "in_progress": 0, "completed": 0, "failed": 0}
    for r in fetch_all(
        conn,
        q("SELECT status, count(*) AS n FROM {chunks} WHERE run_id = %s GROUP BY status"),
        (run_id,),
    ):
        counts[r["status"]] = int(r["n"])
    return counts


def live_in_progress(conn: Conn, run_id: uuid.UUID) -> int:
    """In-progress chunks whose owner is alive (lease running and backend connected)."""
    row = fetch_one(
        conn,
        q(
            "SELECT count(*) AS n FROM {chunks} c WHERE c.run_id = %s"
            " AND c.status = 'in_progress' AND {alive}"
        ),
        (run_id,),
    )
    return int(row["n"]) if row else 0


def longest_completed_chunk_seconds(conn: Conn, run_id: uuid.UUID) -> float | None:
    """The duration of the run's longest completed chunk, in seconds (None before the first)."""
    row = fetch_one(
        conn,
        q(
            "SELECT max(duration_seconds) AS longest FROM {chunks}"
            " WHERE run_id = %s AND status = 'completed'"
        ),
        (run_id,),
    )
    return float(row["longest"]) if row and row["longest"] is not None else None

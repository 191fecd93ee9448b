"""The verification outcome of a chunk or a table, written by ``snowpg verify``, and the run's
verification pass (``migration_runs.metadata -> 'verify'``).

Only the ``verified_at``, ``verify_status`` and ``verify_detail`` columns and that one metadata
key are written, so marking is safe while other processes copy. Each function runs in its own
transaction and commits.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from snowpg.status.rows import ChunkKey, TableKey
from snowpg.status.schema import Conn, fetch_one, key_params, q


def mark_chunk_verified(conn: Conn, key: ChunkKey, status: str, detail: dict[str, Any]) -> None:
    """Store the chunk's verification outcome (own txn)."""
    conn.execute(
        q(
            "UPDATE {chunks} SET verified_at = LOCALTIMESTAMP, verify_status = %(st)s,"
            " verify_detail = %(d)s WHERE {chunk_where}"
        ),
        {
            **key_params(key.table),
            "id": key.chunk_id,
            "st": status,
            "d": Jsonb(detail),
        },
    )
    conn.commit()


def mark_table_verified(conn: Conn, key: TableKey, status: str, detail: dict[str, Any]) -> None:
    """Store the table's verification outcome (own txn)."""
    conn.execute(
        q(
            "UPDATE {tables} SET verified_at = LOCALTIMESTAMP, verify_status = %(st)s,"
            " verify_detail = %(d)s WHERE {table_where}"
        ),
        {**key_params(key), "st": status, "d": Jsonb(detail)},
    )
    conn.commit()


def verify_pass(conn: Conn, run_id: uuid.UUID) -> dict[str, Any] | None:
    """The run's verification pass as last written (None: never verified by this snowpg)."""
    row = fetch_one(
        conn, q("SELECT metadata -> 'verify' AS v FROM {runs} WHERE run_id = %s"), (run_id,)
    )
    conn.commit()
    value = row["v"] if row else None
    return dict(value) if isinstance(value, dict) else None


def set_verify_pass(conn: Conn, run_id: uuid.UUID, state: dict[str, Any]) -> None:
    """Store the run's verification pass under ``metadata -> 'verify'`` (own txn)."""
    conn.execute(
        q(
            "UPDATE {runs} SET metadata = coalesce(metadata, '{{}}'::jsonb)"
            " || jsonb_build_object('verify', %s::jsonb) WHERE run_id = %s"
        ),
        (Jsonb(state), run_id),
    )
    conn.commit()

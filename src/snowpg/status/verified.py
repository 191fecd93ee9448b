"""The verification outcome of a chunk or a table, written by ``snowpg verify``.

Only the ``verified_at``, ``verify_status`` and ``verify_detail`` columns are written, so marking
is safe while other processes copy. Each function runs in its own transaction and commits.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from snowpg.status.rows import ChunkKey, TableKey
from snowpg.status.schema import Conn, key_params, q


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

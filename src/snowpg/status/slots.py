"""A run's cap on concurrent Snowflake chunk queries, across all its processes: query slots.

A run has ``n`` slots; slot ``s`` is the PostgreSQL session advisory lock ``(space, s)``, where
``space`` is a 32-bit number derived from the run id. A worker takes a free slot with
``pg_try_advisory_lock`` on its own connection before it sends a chunk query and gives it back
once the query's result is read. A process that dies ends its session, and PostgreSQL frees the
slot with it: no row to clean up, no lease to expire.

Key spaces stay apart: :mod:`snowpg.status.presence` locks single-bigint keys, schema creation
the two-int4 key :data:`snowpg.status.schema.ADVISORY_KEY`, which no run's space is ever given.
Like every session advisory lock, slots need direct or session-pooled connections: PgBouncer in
transaction mode hands a session's locks to whoever gets its server connection next.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterator

from snowpg.status.schema import ADVISORY_KEY, Conn

# Tries slots from ``start`` round the ring, one lock attempt per step, and stops at the first
# lock taken: a recursive CTE evaluates its steps strictly one after another, so at most one
# slot is ever taken (a plain SELECT ... WHERE pg_try_advisory_lock(...) LIMIT 1 may lock more).
_TAKE = """
WITH RECURSIVE try(i, got) AS (
    SELECT 0, pg_try_advisory_lock(%(space)s::int, %(start)s::int)
    UNION ALL
    SELECT i + 1, pg_try_advisory_lock(%(space)s::int, mod(%(start)s::int + i + 1, %(n)s::int))
    FROM try WHERE NOT got AND i + 1 < %(n)s::int
)
SELECT mod(%(start)s::int + i, %(n)s::int) FROM try WHERE got
"""


def slot_space(run_id: uuid.UUID) -> int:
    """The first advisory key of ``run_id``'s slots (a signed 32-bit number)."""
    digest = hashlib.sha256(f"snowpg-query-slots:{run_id}".encode()).digest()
    space = int.from_bytes(digest[:4], "big", signed=True)
    return space ^ 1 if space == ADVISORY_KEY[0] else space


def try_take(conn: Conn, run_id: uuid.UUID, slots: int, start: int = 0) -> int | None:
    """Take one free slot of ``run_id``'s ``slots`` for this session, trying from ``start``;
    the slot, or None when all are taken. No transaction: call it with none open (a waiting
    worker polls this, and must never sit idle in a transaction)."""
    params = {"space": slot_space(run_id), "n": slots, "start": start % slots}
    with _autocommit(conn):
        row = conn.execute(_TAKE, params).fetchone()
    return int(row[0]) if row is not None else None


def give_back(conn: Conn, run_id: uuid.UUID, slot: int) -> None:
    """Free ``slot`` at once; caller txn, or none (a session-level unlock is not undone by a
    rollback)."""
    conn.execute("SELECT pg_advisory_unlock(%s::int, %s::int)", (slot_space(run_id), slot))


def give_back_now(conn: Conn, run_id: uuid.UUID, slot: int) -> None:
    """:func:`give_back` on a connection with no transaction open, opening none."""
    with _autocommit(conn):
        give_back(conn, run_id, slot)


@contextlib.contextmanager
def _autocommit(conn: Conn) -> Iterator[None]:
    was = conn.autocommit
    conn.autocommit = True  # psycopg refuses while a transaction is open
    try:
        yield
    finally:
        conn.autocommit = was

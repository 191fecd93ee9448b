"""The chunk claim protocol of ``migration_status``: claim, lock, complete, retry, fail.

Exactly once: a chunk's rows and its ``completed`` mark commit in one transaction
(:func:`lock_claim` ... COPY ... :func:`complete_chunk` ... commit). A claim is a lease on the
chunk row (owner, backend pid, expiry); while the data transaction is open the row is also locked,
so :func:`claim_chunk` (``SKIP LOCKED``) never hands it to a second worker, however long the COPY
takes. An in_progress chunk is claimable again once its lease expired or its owner's backend is
gone from ``pg_stat_activity`` (a crashed owner is recovered at once). ``attempts`` is the claim's
fencing token: writes for a claim apply only while the row still carries the claim's value.
Worker ids must be unique per worker.

``lease_expires_at`` is UTC (other times are server-local LOCALTIMESTAMP) so that sessions with
different TimeZone settings agree on when a lease ends. "own txn" functions commit; "caller txn"
ones never do. A claim that does not complete (a retry, a failure, a claim given back) is recorded
by :mod:`snowpg.status.failures`. Use these through :mod:`snowpg.status.store`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from typing import Any

from psycopg import errors, sql

from snowpg.errors import TargetError
from snowpg.status.rows import ChunkKey, ClaimedChunk, TableKey, table_key
from snowpg.status.schema import (
    Conn,
    fetch_one,
    key_params,
    own_txn,
    q,
    rollback_quietly,
)

# Used when lock_claim/record_retry are not told the lease length; leases are only ever
# extended with it, never shortened.
DEFAULT_LEASE_SECONDS = 900


class LostClaim(TargetError):
    """The chunk is no longer this worker's claim; roll back and move on to another chunk."""


class RunAbandoned(LostClaim):
    """The chunk's run was replaced by a fresh run; roll back and stop working on it."""


def claim_params(claim: ClaimedChunk) -> dict[str, Any]:
    return {**key_params(claim.key.table), "id": claim.key.chunk_id, "attempts": claim.attempts}


def claim_chunk(
    conn: Conn,
    run_id: uuid.UUID,
    worker_id: str,
    lease_seconds: int,
    table_thread_limits: Mapping[TableKey, int] | None = None,
    exclude: Collection[ChunkKey] = (),
) -> ClaimedChunk | None:
    """Claim the next chunk of the run for ``worker_id``; own txn. None when nothing is claimable.

    A table's limit counts its chunks with a live owner; tables missing from the mapping are
    unlimited, a limit of 0 means "not here". Under a limit the table row is locked and the count
    taken again, so concurrent claimers cannot overshoot it.
    """
    limits = {k: v for k, v in (table_thread_limits or {}).items() if k.run_id == run_id}
    with own_txn(conn):
        for _ in range(len(limits) + 1):
            cand = _candidate(conn, run_id, limits, exclude)
            if cand is None:
                return None
            key = table_key(run_id, cand)
            if key in limits and not _below_limit(conn, key, limits[key]):
                rollback_quietly(conn)  # drop the candidate's row lock
                limits[key] = 0
                continue
            return _take(conn, key, cand["chunk_id"], worker_id, lease_seconds)
    return None


def _candidate(
    conn: Conn, run_id: uuid.UUID, limits: dict[TableKey, int], exclude: Collection[ChunkKey]
) -> dict[str, Any] | None:
    query, params = candidate_query(run_id, limits, exclude)
    return fetch_one(conn, query, params)


def candidate_query(
    run_id: uuid.UUID, limits: Mapping[TableKey, int], exclude: Collection[ChunkKey]
) -> tuple[sql.Composed, dict[str, Any]]:
    """The claim query: the first claimable chunk in claim order, row-locked (SKIP LOCKED).

    Claim order is the tables' ordinal, then table name, then chunk_id. The tables open for
    claiming (a handful to hundreds of rows) are sorted; for each in turn a LATERAL probe walks
    ``idx_chunk_status_claimable`` (pending and in_progress chunks only, in chunk_id order) and
    stops at its first claimable chunk, so a claim costs O(tables + log chunks), not a sort of
    every pending chunk. The nested loop keeps the tables' order, so no Sort sits above the
    probes and a probe runs only for tables until one yields a chunk (``LIMIT 1``).
    """
    lim = list(limits.items())
    ex = [c for c in exclude if c.table.run_id == run_id]
    query = q(
        "WITH lim(db, sch, tab, max_threads) AS (SELECT * FROM"
        "   unnest(%(ldb)s::text[], %(lsch)s::text[], %(ltab)s::text[], %(lmax)s::int[])),"
        " ex(db, sch, tab, id) AS (SELECT * FROM"
        "   unnest(%(xdb)s::text[], %(xsch)s::text[], %(xtab)s::text[], %(xid)s::int[])),"
        " busy AS (SELECT c.source_database AS db, c.source_schema AS sch,"
        "   c.source_table AS tab, count(*) AS n FROM {chunks} c"
        "   WHERE c.run_id = %(run)s AND c.status = 'in_progress' AND {alive}"
        "   GROUP BY 1, 2, 3)"
        " SELECT c.source_database, c.source_schema, c.source_table, c.chunk_id"
        " FROM (SELECT t.run_id, t.source_database, t.source_schema, t.source_table,"
        "   {ordinal} AS ord FROM {tables} t"
        "   LEFT JOIN lim ON (lim.db, lim.sch, lim.tab)"
        "     = (t.source_database, t.source_schema, t.source_table)"
        "   LEFT JOIN busy ON (busy.db, busy.sch, busy.tab)"
        "     = (t.source_database, t.source_schema, t.source_table)"
        "   WHERE t.run_id = %(run)s AND t.status NOT IN ('failed', 'skipped', 'completed')"
        # A run abandoned by a fresh run hands out no more chunks.
        "   AND EXISTS (SELECT 1 FROM {runs} r WHERE r.run_id = %(run)s AND {not_abandoned})"
        "   AND (lim.max_threads IS NULL OR coalesce(busy.n, 0) < lim.max_threads)"
        "   ORDER BY ord NULLS LAST, t.source_database, t.source_schema, t.source_table) t"
        " CROSS JOIN LATERAL (SELECT c.source_database, c.source_schema, c.source_table,"
        "   c.chunk_id FROM {chunks} c"
        "   WHERE (c.run_id, c.source_database, c.source_schema, c.source_table)"
        "     = (t.run_id, t.source_database, t.source_schema, t.source_table)"
        # Repeats the partial index's predicate, so the planner matches it without proof.
        "   AND c.status IN ('pending', 'in_progress')"
        "   AND (c.status = 'pending' OR (c.status = 'in_progress' AND NOT {alive}))"
        "   AND NOT EXISTS (SELECT 1 FROM ex WHERE (ex.db, ex.sch, ex.tab, ex.id)"
        "     = (c.source_database, c.source_schema, c.source_table, c.chunk_id))"
        "   ORDER BY c.chunk_id LIMIT 1 FOR UPDATE OF c SKIP LOCKED) c"
        " ORDER BY t.ord NULLS LAST, t.source_database, t.source_schema, t.source_table"
        " LIMIT 1"
    )
    params = {
        "run": run_id,
        "ldb": [k.source_database for k, _ in lim],
        "lsch": [k.source_schema for k, _ in lim],
        "ltab": [k.source_table for k, _ in lim],
        "lmax": [v for _, v in lim],
        "xdb": [c.table.source_database for c in ex],
        "xsch": [c.table.source_schema for c in ex],
        "xtab": [c.table.source_table for c in ex],
        "xid": [c.chunk_id for c in ex],
    }
    return query, params


def _below_limit(conn: Conn, key: TableKey, limit: int) -> bool:
    kp = key_params(key)
    # Claimers of one limited table queue here; each holds the lock only for its short claim txn.
    conn.execute(q("SELECT 1 FROM {tables} WHERE {table_where} FOR NO KEY UPDATE"), kp)
    row = fetch_one(
        conn,
        q(
            "SELECT count(*) AS n FROM {chunks} c WHERE c.status = 'in_progress'"
            " AND {alive} AND {table_where}"
        ),
        kp,
    )
    return row is not None and int(row["n"]) < limit


def _take(
    conn: Conn, key: TableKey, chunk_id: int, worker_id: str, lease_seconds: int
) -> ClaimedChunk:
    params = {**key_params(key), "id": chunk_id, "owner": worker_id, "lease": float(lease_seconds)}
    row = fetch_one(
        conn,
        q(
            "UPDATE {chunks} SET status = 'in_progress', completed_at = NULL,"
            " started_at = coalesce(started_at, LOCALTIMESTAMP), lease_owner = %(owner)s,"
            " lease_backend_pid = pg_backend_pid(),"
            " lease_expires_at = (now() AT TIME ZONE 'UTC') + make_interval(secs => %(lease)s),"
            " attempts = coalesce(attempts, 0) + 1"
            " WHERE {chunk_where} RETURNING chunk_range, attempts, retry_count, estimated_rows"
        ),
        params,
    )
    assert row is not None  # the row is locked by this transaction
    conn.execute(
        q(
            "UPDATE {tables} SET status = 'in_progress',"
            " started_at = coalesce(started_at, LOCALTIMESTAMP)"
            " WHERE {table_where} AND status = 'pending'"
        ),
        params,
    )
    return ClaimedChunk(
        ChunkKey(key, chunk_id),
        row["chunk_range"],
        row["attempts"],
        row["retry_count"] or 0,
        row["estimated_rows"],
    )


def lock_claim(
    conn: Conn, claim: ClaimedChunk, worker_id: str, lease_seconds: int | None = None
) -> bool:
    """Lock the claimed chunk row for the data transaction; caller txn, its first statement.

    False means the claim is lost (taken over, or locked by another transaction): the caller
    must roll back and move on. While this transaction stays open no one else can claim the chunk.
    """
    params = {
        **claim_params(claim),
        "owner": worker_id,
        "lease": float(lease_seconds or DEFAULT_LEASE_SECONDS),
    }
    try:
        row = fetch_one(
            conn,
            q(
                "SELECT 1 AS ok FROM {chunks} WHERE {chunk_where} AND status = 'in_progress'"
                " AND lease_owner = %(owner)s AND attempts = %(attempts)s FOR UPDATE NOWAIT"
            ),
            params,
        )
    except errors.LockNotAvailable:
        return False
    if row is None:
        return False
    conn.execute(
        q(
            "UPDATE {chunks} SET lease_backend_pid = pg_backend_pid(),"
            " lease_expires_at = greatest(lease_expires_at,"
            "   (now() AT TIME ZONE 'UTC') + make_interval(secs => %(lease)s))"
            " WHERE {chunk_where}"
        ),
        params,
    )
    return True


def complete_chunk(
    conn: Conn, claim: ClaimedChunk, *, rows_copied: int, bytes_copied: int, duration_seconds: float
) -> None:
    """Mark the chunk completed and add its rows to table and run; caller txn (the one that
    copied the rows). Raises :class:`LostClaim` if the chunk is no longer this claim's."""
    params = {
        **claim_params(claim),
        "rows": rows_copied,
        "bytes": bytes_copied,
        "secs": duration_seconds,
    }
    done = fetch_one(
        conn,
        q(
            "UPDATE {chunks} SET status = 'completed', rows_copied = %(rows)s,"
            " bytes_copied = %(bytes)s, duration_seconds = %(secs)s, error_message = NULL,"
            " completed_at = greatest(LOCALTIMESTAMP, started_at),{clear_lease}"
            " WHERE {chunk_where} AND status = 'in_progress' AND attempts = %(attempts)s"
            " RETURNING 1 AS ok"
        ),
        params,
    )
    if done is None:
        raise LostClaim(
            f"chunk {claim.key.chunk_id} of {claim.key.table.qualified} is no longer claimed by "
            "this worker; its rows were not committed",
            hint="roll back this transaction; another worker owns the chunk",
            table=claim.key.table.qualified,
            chunk_id=claim.key.chunk_id,
        )
    conn.execute(
        q(
            "UPDATE {tables} SET completed_chunks = coalesce(completed_chunks, 0) + 1,"
            " total_rows_copied = coalesce(total_rows_copied, 0) + %(rows)s,"
            " total_bytes = coalesce(total_bytes, 0) + %(bytes)s WHERE {table_where}"
        ),
        params,
    )
    # Fencing against a fresh run started over this one: it marks this run abandoned (a row lock
    # this update waits for) before it truncates, so rows of an abandoned run never commit.
    counted = fetch_one(
        conn,
        q(
            "UPDATE {runs} SET total_rows_copied = coalesce(total_rows_copied, 0) + %(rows)s"
            " WHERE run_id = %(run)s AND {not_abandoned} RETURNING 1 AS ok"
        ),
        params,
    )
    if counted is None:
        raise RunAbandoned(
            f"run {claim.key.table.run_id} is no longer running (a fresh run replaced it); "
            f"chunk {claim.key.chunk_id} of {claim.key.table.qualified} was not committed",
            hint="roll back this transaction and stop claiming chunks of this run",
            table=claim.key.table.qualified,
            chunk_id=claim.key.chunk_id,
        )


def committed_by(conn: Conn, claim: ClaimedChunk) -> int | None:
    """The rows of the chunk if it is completed under this very claim (its commit went through
    although the reply was lost), else None; caller txn."""
    row = fetch_one(
        conn,
        q(
            "SELECT rows_copied FROM {chunks} WHERE {chunk_where} AND status = 'completed'"
            " AND attempts = %(attempts)s"
        ),
        claim_params(claim),
    )
    return int(row["rows_copied"] or 0) if row else None

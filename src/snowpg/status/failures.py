"""A claimed chunk that did not complete: a retry counted, a failure recorded, a claim given back.

Each write applies only while the chunk row still carries the claim's ``attempts`` (the fencing
token of :mod:`snowpg.status.claims`); a lost claim changes nothing. Every function here runs in
its own transaction and commits. Use these through :mod:`snowpg.status.store`.
"""

from __future__ import annotations

import logging
import uuid

from snowpg.status.claims import DEFAULT_LEASE_SECONDS, claim_params
from snowpg.status.rows import ClaimedChunk
from snowpg.status.schema import Conn, clip, fetch_one, own_txn, q

log = logging.getLogger("snowpg.status.failures")


def record_retry(
    conn: Conn, claim: ClaimedChunk, error_message: str, lease_seconds: int | None = None
) -> int:
    """Count a failed attempt that will be retried; own txn. Returns the new retry_count (the
    unchanged one if the claim was lost; the next :func:`lock_claim` then says so)."""
    params = {
        **claim_params(claim),
        "error": clip(error_message),
        "lease": float(lease_seconds or DEFAULT_LEASE_SECONDS),
    }
    with own_txn(conn):
        row = fetch_one(
            conn,
            q(
                "UPDATE {chunks} SET retry_count = coalesce(retry_count, 0) + 1,"
                " error_message = %(error)s, lease_backend_pid = pg_backend_pid(),"
                " lease_expires_at = greatest(lease_expires_at,"
                "   (now() AT TIME ZONE 'UTC') + make_interval(secs => %(lease)s))"
                " WHERE {chunk_where} AND status = 'in_progress' AND attempts = %(attempts)s"
                " RETURNING retry_count"
            ),
            params,
        )
        if row is None:
            log.info("retry of chunk %d not recorded: claim lost", claim.key.chunk_id)
            cur = fetch_one(conn, q("SELECT retry_count FROM {chunks} WHERE {chunk_where}"), params)
            return int(cur["retry_count"] or 0) if cur else claim.retry_count
        return int(row["retry_count"])


def fail_chunk(conn: Conn, claim: ClaimedChunk, error_message: str) -> None:
    """Mark the chunk failed for good (``completed_at`` set, ``retry_count`` keeps the retries it
    used, as the existing tool's repair queries expect) and count it on its table; own txn.
    No-op if the claim was lost."""
    params = {**claim_params(claim), "error": clip(error_message)}
    params["table_error"] = clip(f"chunk {claim.key.chunk_id}: {error_message}")
    with own_txn(conn):
        row = fetch_one(
            conn,
            q(
                "UPDATE {chunks} SET status = 'failed',"
                " completed_at = greatest(LOCALTIMESTAMP, started_at),"
                " error_message = %(error)s,{clear_lease}"
                " WHERE {chunk_where} AND status = 'in_progress' AND attempts = %(attempts)s"
                " RETURNING 1 AS ok"
            ),
            params,
        )
        if row is None:
            log.info("failure of chunk %d not recorded: claim lost", claim.key.chunk_id)
            return
        conn.execute(
            q(
                "UPDATE {tables} SET failed_chunks = coalesce(failed_chunks, 0) + 1,"
                " error_message = %(table_error)s WHERE {table_where}"
            ),
            params,
        )


def release_chunk(conn: Conn, claim: ClaimedChunk) -> None:
    """Give a claimed chunk back (pending, no lease); own txn. No-op if the claim was lost."""
    with own_txn(conn):
        conn.execute(
            q(
                "UPDATE {chunks} SET status = 'pending',{clear_lease}"
                " WHERE {chunk_where} AND status = 'in_progress' AND attempts = %(attempts)s"
            ),
            claim_params(claim),
        )


def release_owned(conn: Conn, run_id: uuid.UUID, owner_prefix: str) -> int:
    """Give back every in_progress chunk of the run claimed by workers ``owner_prefix:*``
    (one process, after Ctrl-C); own txn. Returns how many chunks went back to pending."""
    with own_txn(conn):
        cur = conn.execute(
            q(
                "UPDATE {chunks} SET status = 'pending',{clear_lease}"
                " WHERE run_id = %(run)s AND status = 'in_progress'"
                " AND starts_with(lease_owner, %(prefix)s)"
            ),
            {"run": run_id, "prefix": owner_prefix + ":"},
        )
        return cur.rowcount


def reset_failed(conn: Conn, run_id: uuid.UUID) -> int:
    """Put the run's failed chunks back to pending (retry_count and message kept) and reopen
    failed tables; own txn. Returns how many chunks were reset."""
    with own_txn(conn):
        cur = conn.execute(
            q(
                "UPDATE {chunks} SET status = 'pending', completed_at = NULL,{clear_lease}"
                " WHERE run_id = %s AND status = 'failed'"
            ),
            (run_id,),
        )
        reset = cur.rowcount
        conn.execute(
            q(
                "UPDATE {tables} t SET"
                " failed_chunks = (SELECT count(*) FROM {chunks} c WHERE"
                "   (c.run_id, c.source_database, c.source_schema, c.source_table)"
                "   = (t.run_id, t.source_database, t.source_schema, t.source_table)"
                "   AND c.status = 'failed'),"
                " status = CASE WHEN t.status <> 'failed' THEN t.status"
                "   WHEN t.started_at IS NOT NULL THEN 'in_progress' ELSE 'pending' END,"
                " completed_at = CASE WHEN t.status = 'failed' THEN NULL ELSE t.completed_at END,"
                " error_message = CASE WHEN t.status = 'failed' THEN NULL ELSE t.error_message END"
                " WHERE t.run_id = %s"
            ),
            (run_id,),
        )
    return reset

"""The one door to ``migration_status``: every run, table and chunk read or write, by name.

Callers use ``store.<function>`` only; each function lives in the module of its job:

- :mod:`snowpg.status.runs`: the run rows (create, find the one to resume, status, heartbeat);
- :mod:`snowpg.status.tables`: the table rows (add with their chunks, status, metadata, finish);
- :mod:`snowpg.status.chunks`: reads of the chunk rows (a table's chunks, counts, live owners);
- :mod:`snowpg.status.claims`: the exactly-once claim protocol (claim, lock, complete);
- :mod:`snowpg.status.failures`: a claim that did not complete (retry, fail, release, reset);
- :mod:`snowpg.status.verified`: the outcome of ``snowpg verify`` on a chunk or a table.

The run report's reads are :mod:`snowpg.status.collect`'s.

Functions marked "own txn" commit (and roll back on error); "caller txn" ones never commit.
Times are TIMESTAMP without zone written as LOCALTIMESTAMP, the server's local time, matching the
existing tool's CURRENT_TIMESTAMP defaults (``lease_expires_at`` alone is UTC, see claims.py).
psycopg errors propagate unchanged; the run translates them.
"""

from __future__ import annotations

from snowpg.status.chunks import (
    chunk_status_counts,
    list_chunks,
    live_in_progress,
    longest_completed_chunk_seconds,
)
from snowpg.status.claims import (
    DEFAULT_LEASE_SECONDS,
    LostClaim,
    RunAbandoned,
    candidate_query,
    claim_chunk,
    committed_by,
    complete_chunk,
    lock_claim,
)
from snowpg.status.failures import (
    fail_chunk,
    record_retry,
    release_chunk,
    release_owned,
    reset_failed,
)
from snowpg.status.runs import (
    create_run,
    find_resumable_run,
    get_run,
    latest_run,
    latest_run_id,
    latest_runs,
    run_abandoned,
    run_status,
    set_run_status,
    touch_run,
)
from snowpg.status.tables import (
    add_metadata_counts,
    add_nul_fixed,
    add_skipped_table,
    add_table,
    finish_table,
    get_table,
    set_indexes_disabled,
    set_indexes_restored,
    set_table_status,
    table_rows,
    update_table_metadata,
)
from snowpg.status.verified import (
    mark_chunk_verified,
    mark_table_verified,
    set_verify_pass,
    verify_pass,
)

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "LostClaim",
    "RunAbandoned",
    "add_metadata_counts",
    "add_nul_fixed",
    "add_skipped_table",
    "add_table",
    "candidate_query",
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
    "latest_run_id",
    "latest_runs",
    "list_chunks",
    "live_in_progress",
    "lock_claim",
    "longest_completed_chunk_seconds",
    "mark_chunk_verified",
    "mark_table_verified",
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
    "set_verify_pass",
    "table_rows",
    "touch_run",
    "update_table_metadata",
    "verify_pass",
]

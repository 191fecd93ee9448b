"""The migration_status schema: the existing tool's tables and keys exactly, idempotent, safe
to run concurrently."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from snowpg.status import store
from snowpg.status.schema import ensure_schema, is_current

pytestmark = pytest.mark.integration

# The existing tool's DDL verbatim ("PostgreSQL Schema Setup", Step 1): the contract ensure_schema keeps.
SEED_DDL = """
CREATE SCHEMA IF NOT EXISTS migration_status;
CREATE TABLE IF NOT EXISTS migration_status.migration_runs (
    run_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    started_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    completed_at TIMESTAMP,
    status VARCHAR(20) NOT NULL DEFAULT 'running',
    config_hash VARCHAR(64),
    total_sources INTEGER DEFAULT 0,
    total_tables INTEGER DEFAULT 0,
    completed_tables INTEGER DEFAULT 0,
    failed_tables INTEGER DEFAULT 0,
    total_rows_copied BIGINT DEFAULT 0,
    error_message TEXT,
    metadata JSONB,
    created_by VARCHAR(255)
);
CREATE TABLE IF NOT EXISTS migration_status.migration_table_status (
    run_id UUID NOT NULL REFERENCES migration_status.migration_runs(run_id) ON DELETE CASCADE,
    source_name VARCHAR(255) NOT NULL,
    source_database VARCHAR(255) NOT NULL,
    source_schema VARCHAR(255) NOT NULL,
    source_table VARCHAR(255) NOT NULL,
    target_database VARCHAR(255) NOT NULL,
    target_schema VARCHAR(255) NOT NULL,
    target_table VARCHAR(255) NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'pending',
    started_at TIMESTAMP,
    completed_at TIMESTAMP,
    total_chunks INTEGER DEFAULT 0,
    completed_chunks INTEGER DEFAULT 0,
    failed_chunks INTEGER DEFAULT 0,
    total_rows_copied BIGINT DEFAULT 0,
    indexes_disabled BOOLEAN DEFAULT FALSE,
    indexes_restored BOOLEAN DEFAULT FALSE,
    error_message TEXT,
    metadata JSONB,
    PRIMARY KEY (run_id, source_database, source_schema, source_table)
);
CREATE TABLE IF NOT EXISTS migration_status.migration_chunk_status (
    run_id UUID NOT NULL,
    source_database VARCHAR(255) NOT NULL,
    source_schema VARCHAR(255) NOT NULL,
    source_table VARCHAR(255) NOT NULL,
    chunk_id INTEGER NOT NULL,
    chunk_range JSONB NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'pending',
    rows_copied INTEGER DEFAULT 0,
    started_at TIMESTAMP,
    completed_at TIMESTAMP,
    retry_count INTEGER DEFAULT 0,
    error_message TEXT,
    PRIMARY KEY (run_id, source_database, source_schema, source_table, chunk_id),
    FOREIGN KEY (run_id, source_database, source_schema, source_table)
        REFERENCES migration_status.migration_table_status(run_id, source_database, source_schema, source_table)
        ON DELETE CASCADE
);
CREATE INDEX idx_migration_runs_status ON migration_status.migration_runs(status, started_at DESC);
CREATE INDEX idx_table_status_run_status ON migration_status.migration_table_status(run_id, status);
CREATE INDEX idx_chunk_status_run_status ON migration_status.migration_chunk_status(run_id, status);
"""

SEED_TABLES = ("migration_runs", "migration_table_status", "migration_chunk_status")
SEED_INDEXES = (
    "idx_migration_runs_status",
    "idx_table_status_run_status",
    "idx_chunk_status_run_status",
)
EXTRA_COLUMNS = {
    "migration_runs": {"source_name", "heartbeat_at"},
    "migration_table_status": {
        "estimated_rows", "chunking_method", "total_bytes",
        "verified_at", "verify_status", "verify_detail",
    },
    "migration_chunk_status": {
        "lease_owner", "lease_backend_pid", "lease_expires_at", "estimated_rows",
        "bytes_copied", "duration_seconds", "attempts",
        "verified_at", "verify_status", "verify_detail",
    },
}  # fmt: skip


def _catalog(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Columns, constraints and the existing tool's index definitions of migration_status."""
    columns = conn.execute(
        """
        SELECT table_name, column_name, ordinal_position, data_type, character_maximum_length,
               is_nullable, column_default
        FROM information_schema.columns WHERE table_schema = 'migration_status'
          AND table_name = ANY(%s)
        ORDER BY table_name, ordinal_position
        """,
        (list(SEED_TABLES),),
    ).fetchall()
    constraints = conn.execute(
        """
        SELECT c.conrelid::regclass::text, c.contype, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = 'migration_status' ORDER BY 1, 2, 3
        """
    ).fetchall()
    indexes = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'migration_status'"
        " AND indexname = ANY(%s) ORDER BY 1",
        (list(SEED_INDEXES),),
    ).fetchall()
    return {"columns": columns, "constraints": constraints, "indexes": indexes}


def _seed_part(catalog: dict[str, Any]) -> dict[str, Any]:
    extra = {(t, c) for t, cols in EXTRA_COLUMNS.items() for c in cols}
    return {**catalog, "columns": [r for r in catalog["columns"] if (r[0], r[1]) not in extra]}


def test_status_tables_have_the_seeds_columns_and_keys(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(SEED_DDL)
        seed = _catalog(conn)
        conn.execute("DROP SCHEMA migration_status CASCADE")
        conn.commit()
        ensure_schema(conn)
        ours = _catalog(conn)

    assert len(seed["columns"]) == 13 + 19 + 12
    assert _seed_part(ours) == seed  # same names, order, types, lengths, nullability, defaults
    added = {(r[0], r[1]) for r in ours["columns"]} - {(r[0], r[1]) for r in seed["columns"]}
    assert added == {(t, c) for t, cols in EXTRA_COLUMNS.items() for c in cols}
    # Spot checks a reader can see without diffing catalogs.
    cols = {(r[0], r[1]): r for r in ours["columns"]}
    assert cols[("migration_runs", "run_id")][6] == "gen_random_uuid()"
    assert cols[("migration_chunk_status", "rows_copied")][3] == "integer"
    assert cols[("migration_table_status", "source_table")][4] == 255
    assert cols[("migration_chunk_status", "chunk_range")][5] == "NO"
    keys = {(r[0], r[1]): r[2] for r in ours["constraints"]}
    assert keys[("migration_status.migration_chunk_status", "p")] == (
        "PRIMARY KEY (run_id, source_database, source_schema, source_table, chunk_id)"
    )
    assert keys[("migration_status.migration_chunk_status", "f")].endswith("ON DELETE CASCADE")
    assert (
        "REFERENCES migration_status.migration_runs(run_id) ON DELETE CASCADE"
        in (keys[("migration_status.migration_table_status", "f")])
    )
    assert [r[0] for r in ours["indexes"]] == sorted(SEED_INDEXES)


def test_schema_made_from_the_seed_script_is_upgraded_in_place(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(SEED_DDL)
        conn.execute(
            "INSERT INTO migration_status.migration_runs (status, config_hash) VALUES ('failed', 'x')"
        )
        conn.commit()
        ensure_schema(conn)
        assert is_current(conn)
        row = conn.execute(
            "SELECT status, config_hash, source_name FROM migration_status.migration_runs"
        ).fetchone()
        assert row == ("failed", "x", None)  # existing rows kept, new columns NULL


def test_ensure_schema_twice_and_repairs_a_missing_column(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        ensure_schema(conn)
        first = _catalog(conn)
        ensure_schema(conn)
        assert _catalog(conn) == first
        conn.execute("ALTER TABLE migration_status.migration_chunk_status DROP COLUMN attempts")
        conn.commit()
        assert not is_current(conn)
        ensure_schema(conn)
        assert is_current(conn)


def test_current_schema_is_not_locked_by_ensure_schema(pg_dsn: str) -> None:
    """A worker holding a lock on the status tables must not block a second process starting."""
    with psycopg.connect(pg_dsn) as holder, psycopg.connect(pg_dsn) as starter:
        ensure_schema(holder)
        holder.execute("LOCK TABLE migration_status.migration_chunk_status IN ROW EXCLUSIVE MODE")
        starter.execute("SET lock_timeout = '1s'")
        ensure_schema(starter)  # would raise LockNotAvailable if it ran ALTER TABLE
        holder.rollback()


def test_ensure_schema_concurrently(pg_dsn: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        try:
            with psycopg.connect(pg_dsn) as conn:
                barrier.wait()
                ensure_schema(conn)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(pg_dsn) as conn:
        assert is_current(conn)


def test_views_report_progress(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        ensure_schema(conn)
        run_id = store.create_run(
            conn, source_name="src", config_hash="h", created_by="t", metadata={}
        )
        chunks = [(i, {"columns": ["ID"], "lower": [str(i)], "upper": [str(i + 1)]}, 10)
                  for i in range(4)]  # fmt: skip
        key = store.add_table(
            conn, run_id=run_id, source_name="src", source_database="DB",
            source_schema="PUBLIC", source_table="T1", target_database="pg",
            target_schema="public", target_table="t1", chunks=chunks, estimated_rows=40,
            chunking_method="range", metadata={},
        )  # fmt: skip
        store.add_skipped_table(
            conn, run_id=run_id, source_name="src", source_database="DB",
            source_schema="PUBLIC", source_table="T0", target_database="pg",
            target_schema="public", target_table="t0", reason="disabled",
        )  # fmt: skip
        conn.commit()
        done = store.claim_chunk(conn, run_id, "w1", 60)
        assert done is not None
        assert store.lock_claim(conn, done, "w1")
        store.complete_chunk(conn, done, rows_copied=10, bytes_copied=100, duration_seconds=0.1)
        conn.commit()
        failed = store.claim_chunk(conn, run_id, "w1", 60)
        assert failed is not None
        store.fail_chunk(conn, failed, "boom")
        assert store.claim_chunk(conn, run_id, "w1", 60) is not None

        active = conn.execute(
            "SELECT run_id, source_name, status, total_tables, tables_in_progress, tables_failed,"
            " chunks_total, chunks_completed, chunks_in_progress, chunks_failed, rows_copied,"
            " duration >= interval '0' FROM migration_status.v_active_migrations"
        ).fetchall()
        assert active == [(run_id, "src", "running", 2, 1, 0, 4, 1, 1, 1, 10, True)]
        progress = conn.execute(
            "SELECT source, target, status, total_chunks, completed_chunks, failed_chunks,"
            " in_progress_chunks, completion_pct::text, total_rows_copied, estimated_rows"
            " FROM migration_status.v_table_progress WHERE run_id = %s ORDER BY source",
            (run_id,),
        ).fetchall()
        assert progress == [
            ("DB.PUBLIC.T0", "pg.public.t0", "skipped", 0, 0, 0, 0, "0.0", 0, None),
            ("DB.PUBLIC.T1", "pg.public.t1", "in_progress", 4, 1, 1, 1, "25.0", 10, 40),
        ]
        store.set_run_status(conn, run_id, "completed")
        assert conn.execute(
            "SELECT count(*) FROM migration_status.v_active_migrations"
        ).fetchone() == (0,)
        assert key.qualified == "DB.PUBLIC.T1"

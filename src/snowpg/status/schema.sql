-- snowpg status schema. The three tables and three indexes are the existing tool's DDL unchanged
-- (plus IF NOT EXISTS); snowpg's own columns and indexes are added after them, additively, so a
-- schema created by hand from that tool's script is upgraded in place and never rewritten. What
-- the existing tool's schema file adds (CHECKs on the status words and on completed_at >=
-- started_at, indexes, comments, views) is kept: snowpg writes only values those CHECKs allow,
-- and completed_at as greatest(LOCALTIMESTAMP, started_at), so sessions with different TimeZone
-- settings never write a completion before its start.
-- Times are TIMESTAMP without zone, written as LOCALTIMESTAMP like the existing tool's
-- CURRENT_TIMESTAMP defaults: the server's local time. Only lease_expires_at is UTC (see its comment).
-- Run by snowpg.status.schema.ensure_schema inside one transaction under an advisory lock.

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

CREATE INDEX IF NOT EXISTS idx_migration_runs_status
    ON migration_status.migration_runs(status, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_table_status_run_status
    ON migration_status.migration_table_status(run_id, status);
CREATE INDEX IF NOT EXISTS idx_chunk_status_run_status
    ON migration_status.migration_chunk_status(run_id, status);

-- snowpg additions (additive only).
ALTER TABLE migration_status.migration_runs
    ADD COLUMN IF NOT EXISTS source_name VARCHAR(255),
    ADD COLUMN IF NOT EXISTS heartbeat_at TIMESTAMP;

ALTER TABLE migration_status.migration_table_status
    ADD COLUMN IF NOT EXISTS estimated_rows BIGINT,
    ADD COLUMN IF NOT EXISTS chunking_method TEXT,
    ADD COLUMN IF NOT EXISTS total_bytes BIGINT DEFAULT 0;

ALTER TABLE migration_status.migration_chunk_status
    ADD COLUMN IF NOT EXISTS lease_owner VARCHAR(255),
    ADD COLUMN IF NOT EXISTS lease_backend_pid INTEGER,
    ADD COLUMN IF NOT EXISTS lease_expires_at TIMESTAMP,
    ADD COLUMN IF NOT EXISTS estimated_rows BIGINT,
    ADD COLUMN IF NOT EXISTS bytes_copied BIGINT DEFAULT 0,
    ADD COLUMN IF NOT EXISTS duration_seconds DOUBLE PRECISION,
    ADD COLUMN IF NOT EXISTS attempts INTEGER DEFAULT 0;

COMMENT ON COLUMN migration_status.migration_chunk_status.lease_expires_at IS
    'UTC (now() AT TIME ZONE ''UTC''), so sessions with different TimeZone settings agree on expiry';

-- Verification (snowpg verify / migrate --verify): v2. verify_status is match, mismatch or error.
ALTER TABLE migration_status.migration_table_status
    ADD COLUMN IF NOT EXISTS verified_at TIMESTAMP,
    ADD COLUMN IF NOT EXISTS verify_status VARCHAR(20),
    ADD COLUMN IF NOT EXISTS verify_detail JSONB;

ALTER TABLE migration_status.migration_chunk_status
    ADD COLUMN IF NOT EXISTS verified_at TIMESTAMP,
    ADD COLUMN IF NOT EXISTS verify_status VARCHAR(20),
    ADD COLUMN IF NOT EXISTS verify_detail JSONB;

-- Claiming filters on run and status and orders by table and chunk.
CREATE INDEX IF NOT EXISTS idx_chunk_status_claim
    ON migration_status.migration_chunk_status
    (run_id, status, source_database, source_schema, source_table, chunk_id);

-- The claim query (snowpg.status.claims.candidate_query) probes each open table for its first
-- claimable chunk in chunk_id order: only pending and in_progress chunks are in this index, so
-- a probe never walks the completed chunks and a claim stays O(log n) at 10^5+ chunks.
CREATE INDEX IF NOT EXISTS idx_chunk_status_claimable
    ON migration_status.migration_chunk_status
    (run_id, source_database, source_schema, source_table, chunk_id)
    WHERE status IN ('pending', 'in_progress');

CREATE INDEX IF NOT EXISTS idx_migration_runs_source
    ON migration_status.migration_runs(source_name, started_at DESC);

-- The views (snowpg.status.views) are created after this script, beside any view of the same
-- name another tool made.

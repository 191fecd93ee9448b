-- snowpg status schema. The three tables and three indexes are the seed's DDL unchanged (plus
-- IF NOT EXISTS); snowpg's own columns, index and views are added after them, additively, so a
-- schema created by hand from the seed's script is upgraded in place and never rewritten.
-- Times are TIMESTAMP without zone, written as LOCALTIMESTAMP like the seed's CURRENT_TIMESTAMP
-- defaults: the server's local time. Only lease_expires_at is UTC (see its comment).
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

CREATE INDEX IF NOT EXISTS idx_migration_runs_source
    ON migration_status.migration_runs(source_name, started_at DESC);

CREATE OR REPLACE VIEW migration_status.v_active_migrations AS
SELECT
    r.run_id,
    r.source_name,
    r.status,
    r.started_at,
    LOCALTIMESTAMP - r.started_at AS duration,
    coalesce(t.total_tables, 0) AS total_tables,
    coalesce(t.tables_in_progress, 0) AS tables_in_progress,
    coalesce(t.tables_failed, 0) AS tables_failed,
    coalesce(c.chunks_total, 0) AS chunks_total,
    coalesce(c.chunks_completed, 0) AS chunks_completed,
    coalesce(c.chunks_in_progress, 0) AS chunks_in_progress,
    coalesce(c.chunks_failed, 0) AS chunks_failed,
    coalesce(c.rows_copied, 0) AS rows_copied
FROM migration_status.migration_runs r
LEFT JOIN LATERAL (
    SELECT
        count(*) AS total_tables,
        count(*) FILTER (WHERE ts.status = 'in_progress') AS tables_in_progress,
        count(*) FILTER (WHERE ts.status = 'failed') AS tables_failed
    FROM migration_status.migration_table_status ts
    WHERE ts.run_id = r.run_id
) t ON true
LEFT JOIN LATERAL (
    SELECT
        count(*) AS chunks_total,
        count(*) FILTER (WHERE cs.status = 'completed') AS chunks_completed,
        count(*) FILTER (WHERE cs.status = 'in_progress') AS chunks_in_progress,
        count(*) FILTER (WHERE cs.status = 'failed') AS chunks_failed,
        sum(cs.rows_copied) FILTER (WHERE cs.status = 'completed') AS rows_copied
    FROM migration_status.migration_chunk_status cs
    WHERE cs.run_id = r.run_id
) c ON true
WHERE r.status IN ('running', 'partial');

CREATE OR REPLACE VIEW migration_status.v_table_progress AS
SELECT
    t.run_id,
    t.source_name,
    t.source_database || '.' || t.source_schema || '.' || t.source_table AS source,
    t.target_database || '.' || t.target_schema || '.' || t.target_table AS target,
    t.status,
    coalesce(t.total_chunks, 0) AS total_chunks,
    coalesce(c.completed_chunks, 0) AS completed_chunks,
    coalesce(c.failed_chunks, 0) AS failed_chunks,
    coalesce(c.in_progress_chunks, 0) AS in_progress_chunks,
    CASE
        WHEN coalesce(t.total_chunks, 0) = 0 THEN
            CASE WHEN t.status = 'completed' THEN 100.0 ELSE 0.0 END
        ELSE round(100.0 * coalesce(c.completed_chunks, 0) / t.total_chunks, 1)
    END::numeric(4, 1) AS completion_pct,
    coalesce(t.total_rows_copied, 0) AS total_rows_copied,
    t.estimated_rows,
    t.started_at,
    t.completed_at,
    coalesce(t.completed_at, LOCALTIMESTAMP) - t.started_at AS duration
FROM migration_status.migration_table_status t
LEFT JOIN LATERAL (
    SELECT
        count(*) FILTER (WHERE cs.status = 'completed') AS completed_chunks,
        count(*) FILTER (WHERE cs.status = 'failed') AS failed_chunks,
        count(*) FILTER (WHERE cs.status = 'in_progress') AS in_progress_chunks
    FROM migration_status.migration_chunk_status cs
    WHERE (cs.run_id, cs.source_database, cs.source_schema, cs.source_table)
        = (t.run_id, t.source_database, t.source_schema, t.source_table)
) c ON true;

-- ensure_schema skips all of the above when this marker and every object are present.
COMMENT ON VIEW migration_status.v_table_progress IS 'snowpg status schema v2';

"""Helpers for the observability tests: a slowed-down live migration and status-table readers."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

from tests.fixtures.migration import (
    create_mixed_table,
    make_config,
    run_cli,
    spawn_cli,
    write_config,
)

TARGET = (
    'CREATE TABLE public.{table} (id numeric(38,0) PRIMARY KEY, "Payer Id" varchar(30), '
    "amount numeric(12,2), qty numeric(38,0), ratio double precision, flag boolean, d date, "
    "ts timestamp, tsz timestamptz, doc jsonb, blob bytea, note text)"
)


def prepare_slow_tables(
    sf_conn: Any, pg_dsn: str, tables: dict[str, int], slow_seconds: float
) -> None:
    """Source tables with ``rows`` rows each, and target tables whose every COPY is slowed."""
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_sleep({slow_seconds}); RETURN NULL; END $$"
        )
        for name, rows in tables.items():
            create_mixed_table(sf_conn, name, rows)
            t = name.lower()
            conn.execute(TARGET.format(table=t))
            conn.execute(
                f"CREATE TRIGGER slow AFTER INSERT ON public.{t} FOR EACH STATEMENT "
                "EXECUTE FUNCTION public.slow()"
            )


def config_for(
    tmp_path: Path, sf_database: str, pg_database: str, tables: list[str], **globals_: Any
) -> Path:
    return write_config(
        tmp_path / "config.json",
        make_config(sf_database, pg_database, [{"source": t} for t in tables], **globals_),
    )


def start_migration(cfg: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return spawn_cli("migrate", "--config", str(cfg), env=env, log=log)


def status_json(cfg: Path, env: dict[str, str], *extra: str) -> list[dict[str, Any]]:
    result = run_cli("status", "--config", str(cfg), "--json", *extra, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


def completed_chunks(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        if conn.execute(
            "SELECT to_regclass('migration_status.migration_chunk_status')"
        ).fetchone() == (None,):
            return 0
        row = conn.execute(
            "SELECT count(*) FROM migration_status.migration_chunk_status WHERE status = 'completed'"
        ).fetchone()
    return int(row[0]) if row else 0


def table_rows(dsn: str) -> dict[str, dict[str, Any]]:
    """migration_table_status of the newest run, by source table, plus the chunks' retries."""
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(
            "SELECT t.source_table, t.status, t.total_chunks, t.completed_chunks, t.failed_chunks,"
            " t.total_rows_copied, t.total_bytes, t.estimated_rows,"
            " (SELECT coalesce(sum(retry_count), 0) FROM migration_status.migration_chunk_status c"
            "   WHERE c.run_id = t.run_id AND c.source_table = t.source_table) AS retries"
            " FROM migration_status.migration_table_status t"
            " WHERE t.run_id = (SELECT run_id FROM migration_status.migration_runs"
            "   ORDER BY started_at DESC LIMIT 1)"
        )
        return {r["source_table"]: r for r in cur.fetchall()}


def wait_for(predicate: Any, timeout: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")

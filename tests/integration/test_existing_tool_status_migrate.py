"""`snowpg migrate` and `snowpg status` through the CLI on a database whose migration_status the
existing tool's schema file made (tests/fixtures/existing_tool_status_schema.sql)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures import existing_status as existing
from tests.fixtures.migration import (
    MIXED_SOURCE_COLS,
    MIXED_TARGET_COLS,
    NO_PK_TARGET,
    compare_mixed,
    count_rows,
    create_mixed_table,
    make_config,
    run_cli,
    source_rows,
    target_rows,
    write_config,
)

pytestmark = pytest.mark.integration

ROWS = 3000


def _target_equals_source(sf_conn: Any, pg_dsn: str) -> None:
    assert count_rows(pg_dsn, "public", "orders") == (ROWS, ROWS)
    compare_mixed(
        source_rows(sf_conn, "ORDERS", MIXED_SOURCE_COLS, "ID"),
        target_rows(pg_dsn, "public", "orders", MIXED_TARGET_COLS, "id"),
    )


def _snowpg_runs(pg_dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_dsn) as conn:
        return conn.execute(
            "SELECT status, error_message, total_rows_copied FROM migration_status.migration_runs"
            " WHERE source_name IS NOT NULL ORDER BY started_at"
        ).fetchall()


def test_migrate_and_status_on_their_schema_then_their_file_runs_again(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    existing.apply_ddl(pg_dsn)
    existing.add_their_run(pg_dsn)
    before = existing.snapshot(pg_dsn)
    create_mixed_table(sf_conn, "ORDERS", ROWS)
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [{"source": "ORDERS"}], batch_size=500),
    )

    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "left the existing view(s) v_active_migrations, v_table_progress" in result.stderr
    _target_equals_source(sf_conn, pg_dsn)
    existing.assert_statuses_allowed(pg_dsn)
    assert _snowpg_runs(pg_dsn) == [("completed", None, ROWS)]
    after = existing.snapshot(pg_dsn)
    assert after["their_run"] == before["their_run"]
    assert after["views"] == before["views"] and after["constraints"] == before["constraints"]
    with psycopg.connect(pg_dsn) as conn:
        # Their view shows snowpg's table too; snowpg's view, beside it, shows snowpg's columns.
        assert conn.execute(
            "SELECT source_name, status, total_chunks, progress_pct, total_rows_copied"
            " FROM migration_status.v_table_progress WHERE source_table = 'ORDERS'"
        ).fetchall() == [("src", "completed", 6, 100, ROWS)]
        assert conn.execute(
            "SELECT source, status, completion_pct::text, total_rows_copied"
            " FROM migration_status.v_snowpg_table_progress WHERE source LIKE '%.ORDERS'"
        ).fetchall() == [(f"{sf_database}.PUBLIC.ORDERS", "completed", "100.0", ROWS)]

    status = run_cli("status", "--config", str(cfg), "--json", env=server_env)
    assert status.returncode == 0, status.stdout + status.stderr
    [report] = json.loads(status.stdout)
    assert report["run_status"] == "completed" and report["rows_copied"] == ROWS
    assert [(t["source_table"], t["status"], t["chunks_completed"]) for t in report["tables"]] == [
        ("ORDERS", "completed", 6)
    ]
    text = run_cli("status", "--config", str(cfg), env=server_env)
    assert text.returncode == 0 and report["run_id"] in text.stdout, text.stdout + text.stderr

    existing.apply_ddl(pg_dsn)  # their deploy runs the file again: no error, nothing changes
    assert existing.snapshot(pg_dsn) == after
    again = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already complete" in again.stdout + again.stderr
    assert _snowpg_runs(pg_dsn) == [("completed", None, ROWS)]


def test_status_and_report_before_snowpg_ever_ran_say_no_run_and_write_nothing(
    pg_dsn: str, pg_database: str, server_env: dict[str, str], tmp_path: Path
) -> None:
    existing.apply_ddl(pg_dsn)
    existing.add_their_run(pg_dsn)
    before = existing.snapshot(pg_dsn)
    cfg = write_config(tmp_path / "c.json", make_config("SF", pg_database, [{"source": "ORDERS"}]))
    result = run_cli("status", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"source src: no run recorded in {pg_database}" in result.stdout
    as_json = run_cli("status", "--config", str(cfg), "--json", env=server_env)
    assert as_json.returncode == 0 and json.loads(as_json.stdout)[0]["run_id"] is None
    report = run_cli("report", "--config", str(cfg), env=server_env)
    assert report.returncode == 0 and "no run recorded" in report.stdout, report.stderr
    assert existing.snapshot(pg_dsn) == before  # status reads; it never upgrades the schema


def test_failed_chunk_then_resume_under_their_checks(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    existing.apply_ddl(pg_dsn)
    create_mixed_table(sf_conn, "ORDERS", ROWS)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(NO_PK_TARGET)
        conn.execute("ALTER TABLE public.orders ADD CONSTRAINT no_1234 CHECK (id <> 1234)")
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [{"source": "ORDERS"}], batch_size=500),
    )

    failed = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    existing.assert_statuses_allowed(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        chunks = conn.execute(
            "SELECT status, count(*) FROM migration_status.migration_chunk_status"
            " GROUP BY status ORDER BY status"
        ).fetchall()
        table = conn.execute(
            "SELECT status FROM migration_status.migration_table_status"
        ).fetchall()
        conn.execute("ALTER TABLE public.orders DROP CONSTRAINT no_1234")
    assert chunks == [("completed", 5), ("failed", 1)]
    assert table == [("failed",)]
    assert [r[0] for r in _snowpg_runs(pg_dsn)] == ["failed"]

    resumed = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert _snowpg_runs(pg_dsn) == [("completed", None, ROWS)]  # the same run, resumed
    _target_equals_source(sf_conn, pg_dsn)
    existing.assert_statuses_allowed(pg_dsn)

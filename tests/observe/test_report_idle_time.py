"""The run report's average rows/s counts copying time, not pauses between invocations."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import psycopg
import pytest

from snowpg.config import Settings, SourceConfig, load_settings
from snowpg.postgres import connection
from snowpg.status.collect import collect_status
from snowpg.status.report import StatusReport
from tests.fixtures.migration import create_mixed_table, make_config, run_cli, write_config

pytestmark = pytest.mark.integration


def _status(settings: Settings, source: SourceConfig) -> StatusReport:
    with contextlib.closing(
        connection.connect(settings.postgres, source.target_pg_database)
    ) as conn:
        return collect_status(conn, source)


def test_average_rate_leaves_out_an_idle_hour_between_invocations(
    sf_conn: Any,
    sf_database: str,
    pg_database: str,
    pg_dsn: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_mixed_table(sf_conn, "ORDERS", 4000)
    cfg = write_config(
        tmp_path / "c.json", make_config(sf_database, pg_database, [{"source": "ORDERS"}])
    )
    done = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert done.returncode == 0, done.stdout + done.stderr
    settings = load_settings(cfg)
    [source] = settings.sources
    before = _status(settings, source)
    [table] = before.tables
    assert table.average_rows_per_second and before.rows_per_second

    # As if the first chunk had been copied an hour before the others (a Lambda loop paused):
    # the run and table started an hour earlier, and so did the first chunk.
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for t in ("migration_runs", "migration_table_status"):
            conn.execute(
                f"UPDATE migration_status.{t} SET started_at = started_at - interval '1 hour'"
            )
        conn.execute(
            "UPDATE migration_status.migration_chunk_status SET"
            " started_at = started_at - interval '1 hour',"
            " completed_at = completed_at - interval '1 hour' WHERE chunk_id ="
            " (SELECT min(chunk_id) FROM migration_status.migration_chunk_status)"
        )
    after = _status(settings, source)
    [paused] = after.tables
    assert after.seconds is not None and after.seconds > 3600
    wall_rate = 4000 / after.seconds
    assert paused.average_rows_per_second is not None and after.rows_per_second is not None
    # Within a factor of two of the unpaused rate, and far above rows / wall clock.
    assert paused.average_rows_per_second > table.average_rows_per_second / 2
    assert after.rows_per_second > before.rows_per_second / 2
    assert after.rows_per_second > 50 * wall_rate

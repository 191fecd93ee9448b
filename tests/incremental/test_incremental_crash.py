"""SIGKILL during an incremental run: the rerun resumes the same window; the next catches up."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.migration import make_config, run_cli, spawn_cli, write_config
from tests.incremental.helpers import (
    KEYS,
    WATERMARK,
    change_rows,
    create_table,
    execute,
    scalar,
    source_set,
    target_set,
)

pytestmark = pytest.mark.integration

LATEST_RUN = "(SELECT run_id FROM migration_status.migration_runs ORDER BY started_at DESC LIMIT 1)"


def _completed_in_latest(dsn: str) -> int:
    return int(
        scalar(
            dsn,
            "SELECT count(*) FROM migration_status.migration_chunk_status"
            f" WHERE status = 'completed' AND run_id = {LATEST_RUN}",
        )
    )


def test_sigkill_incremental_run_then_rerun_converges(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_table(sf_conn, "ITEMS", 20_000)
    table = {"source": "ITEMS", "uniqueness_columns": KEYS, "source_watermark": WATERMARK}
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [table], batch_size=500, parallel_threads=2),
    )
    assert run_cli("migrate", "--config", str(cfg), env=server_env).returncode == 0
    with psycopg.connect(pg_dsn) as conn:
        # Each merge takes >= 100 ms, so the run is still going when it is killed.
        conn.execute(
            "CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(0.1); RETURN NULL; END $$"
        )
        conn.execute(
            "CREATE TRIGGER slow AFTER INSERT ON public.items"
            " FOR EACH STATEMENT EXECUTE FUNCTION public.slow()"
        )
    change_rows(sf_conn, "ITEMS", update_mod=3, insert=3000, start_id=1_000_000)
    in_window = len([r for r in source_set(sf_conn, "ITEMS") if r[4].year >= 2025])
    assert in_window == 6667 + 3000

    proc = spawn_cli("sync", "--config", str(cfg), env=server_env, log=tmp_path / "killed.log")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        runs = scalar(pg_dsn, "SELECT count(*) FROM migration_status.migration_runs")
        if runs == 2 and _completed_in_latest(pg_dsn) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, (tmp_path / "killed.log").read_text()
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    done_before = _completed_in_latest(pg_dsn)
    assert (
        0
        < done_before
        < scalar(
            pg_dsn,
            f"SELECT count(*) FROM migration_status.migration_chunk_status WHERE run_id = {LATEST_RUN}",
        )
    )

    # Rows changed after the run was planned are outside its window: the next run takes them.
    execute(
        sf_conn,
        "UPDATE ITEMS SET VAL = 'late', \"Updated At\" = '2027-01-01 00:00:00'::timestamp_ntz"
        ' WHERE mod("Item Id", 7) = 3',
    )
    resumed = run_cli("sync", "--config", str(cfg), env=server_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resumed" in resumed.stdout
    assert scalar(pg_dsn, "SELECT count(*) FROM migration_status.migration_runs") == 2
    # Each chunk of the window counted once; rows moved out of the window (the late update)
    # before their chunk was read are left to the next run.
    copied = scalar(
        pg_dsn,
        "SELECT sum(rows_copied) FROM migration_status.migration_chunk_status"
        f" WHERE run_id = {LATEST_RUN} AND status = 'completed'",
    )
    assert in_window - 6667 // 7 - 3000 // 7 - 2 <= copied <= in_window
    target = {(r[0], r[1]): r for r in target_set(pg_dsn, "items")}
    settled = [r for r in source_set(sf_conn, "ITEMS") if r[2] != "late"]
    assert all(target[(r[0], r[1])] == r for r in settled)  # nothing skipped in the window
    assert "late" not in {r[2] for r in target.values()}

    final = run_cli("sync", "--config", str(cfg), "--until-lag", "0s", env=server_env)
    assert final.returncode == 0, final.stdout + final.stderr
    expected = source_set(sf_conn, "ITEMS")
    got = target_set(pg_dsn, "items")
    assert len(got) == len({(r[0], r[1]) for r in got}) == 23_000
    assert got == expected

"""``snowpg status --json`` against a run in progress and the same run finished (real CLI)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.migration import run_cli, spawn_cli
from tests.observe.helpers import (
    completed_chunks,
    config_for,
    prepare_slow_tables,
    start_migration,
    status_json,
    table_rows,
    wait_for,
)

pytestmark = pytest.mark.integration


def test_status_json_in_progress_then_finished(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    prepare_slow_tables(sf_conn, pg_dsn, {"ORDERS": 12_000}, slow_seconds=0.08)
    cfg = config_for(
        tmp_path, sf_database, pg_database, ["ORDERS"], batch_size=250, parallel_threads=1
    )
    proc = start_migration(cfg, server_env, tmp_path / "migrate.log")
    try:
        wait_for(lambda: completed_chunks(pg_dsn) >= 3 or proc.poll() is not None, 120, "3 chunks")
        assert proc.poll() is None, "the migration ended before it could be observed"
        before = table_rows(pg_dsn)["ORDERS"]
        [live] = status_json(cfg, server_env)
        after = table_rows(pg_dsn)["ORDERS"]
        assert proc.poll() is None, "the migration ended while status was read"
    finally:
        code = proc.wait(180)
    assert code == 0, (tmp_path / "migrate.log").read_text()

    assert live["run_status"] == "running" and live["completed_at"] is None
    [t] = live["tables"]
    assert t["source_table"] == "ORDERS" and t["status"] == "in_progress"
    total = before["total_chunks"]
    assert t["chunks_total"] == total and total >= 48
    # What status printed lies between two reads of the status tables around it.
    assert before["completed_chunks"] <= t["chunks_completed"] <= after["completed_chunks"] < total
    assert before["total_rows_copied"] <= t["rows_copied"] <= after["total_rows_copied"]
    assert before["total_bytes"] <= t["bytes_copied"] <= after["total_bytes"]
    assert t["rows_copied"] == live["rows_copied"] > 0
    assert t["rows_per_second"] > 0 and live["rows_per_second"] > 0
    assert t["eta_seconds"] is not None and t["eta_seconds"] > 0
    assert live["eta_seconds"] == pytest.approx(t["eta_seconds"])
    assert t["chunks_in_progress"] in (0, 1)
    assert t["stuck_chunks"] == [] and t["failed_chunks"] == []
    assert live["throughput"] and max(p[1] for p in live["throughput"]) > 0

    [done] = status_json(cfg, server_env, "--run", live["run_id"])
    final = table_rows(pg_dsn)["ORDERS"]
    assert done["run_id"] == live["run_id"] and done["run_status"] == "completed"
    assert done["completed_at"] is not None and done["eta_seconds"] is None
    [d] = done["tables"]
    assert d["status"] == "completed" and d["eta_seconds"] is None
    assert (d["chunks_completed"], d["chunks_total"], d["chunks_failed"]) == (total, total, 0)
    assert d["rows_copied"] == final["total_rows_copied"] == done["rows_copied"] == 12_000
    assert d["bytes_copied"] == final["total_bytes"] == done["bytes_copied"] > 0
    assert d["retries"] == final["retries"] == 0
    assert d["seconds"] > 0 and d["average_rows_per_second"] == pytest.approx(12_000 / d["seconds"])
    assert sum(p[1] for p in done["throughput"]) > 0

    # Without --json: the same numbers for people.
    text = run_cli("status", "--config", str(cfg), env=server_env)
    assert text.returncode == 0, text.stderr
    assert (
        "completed" in text.stdout and "12,000" in text.stdout and f"{total}/{total}" in text.stdout
    )


def test_status_before_any_run_and_with_a_bad_run_id(
    pg_database: str, sf_database: str, server_env: dict[str, str], tmp_path: Path
) -> None:
    cfg = config_for(tmp_path, sf_database, pg_database, ["ORDERS"])
    [empty] = status_json(cfg, server_env)
    assert empty["run_id"] is None and empty["tables"] == []
    text = run_cli("status", "--config", str(cfg), env=server_env)
    assert text.returncode == 0 and "no run recorded" in text.stdout
    bad = run_cli("status", "--config", str(cfg), "--run", "nope", env=server_env)
    assert bad.returncode == 2 and "--run 'nope' is not a run id" in bad.stderr

    # --watch refreshes until Ctrl-C, then exits 0.
    log = tmp_path / "watch.log"
    watch = spawn_cli(
        "status", "--config", str(cfg), "--watch", "--interval", "0.3", env=server_env, log=log
    )
    try:
        wait_for(lambda: log.read_text().count("no run recorded") >= 2, 30, "two refreshes")
    finally:
        watch.send_signal(signal.SIGINT)
    assert watch.wait(30) == 0, log.read_text()  # once timed out at 10 s on a loaded machine

"""Faults while a run starts (open, plan, prepare): retried like chunk copies, no rerun needed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.faults.helpers import wait_or_kill
from tests.fixtures.migration import make_config, run_cli, spawn_cli, write_config
from tests.fixtures.proxy import Proxy

pytestmark = pytest.mark.integration

ROWS_PER_TABLE = 20


def _tables(sf_conn: Any, n: int) -> list[str]:
    cur = sf_conn.cursor()
    names = [f"T_{i:03d}" for i in range(n)]
    for name in names:
        cur.execute(
            f"create table {name} as select seq4() as id, 'v' || seq4() as val"
            f" from table(generator(rowcount => {ROWS_PER_TABLE}))"
        )
    return names


def _wait_for_text(log: Path, text: str, proc: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"process ended before {text!r}:\n{log.read_text()}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {text!r}:\n{log.read_text()}")


def _cut_during_planning(
    n_tables: int,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    pg_proxy: Proxy,
    tmp_path: Path,
) -> None:
    names = _tables(sf_conn, n_tables)
    cfg = write_config(
        tmp_path / "c.json",
        make_config(
            sf_database,
            pg_database,
            [{"source": n} for n in names],
            batch_size=1000,
            max_retry_attempts=5,
            retry_backoff_seconds=0.2,
        ),
    )
    env = {**server_env, "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(pg_proxy.port)}
    log = tmp_path / "run.log"
    proc = spawn_cli("migrate", "--config", str(cfg), env=env, log=log)
    # Cut while tables are being planned and prepared: once after the third, once after more.
    for name in (names[2], names[n_tables // 2]):
        _wait_for_text(log, f"planned {name}", proc, 240)
        pg_proxy.cut()
    code = wait_or_kill(proc, log, 600)
    out = log.read_text()
    assert code == 0, out
    assert "starting the run failed" in out and "transient, retry 1 of 5" in out, out
    with psycopg.connect(pg_dsn) as conn:
        runs = conn.execute("SELECT status FROM migration_status.migration_runs").fetchall()
        tables = conn.execute(
            "SELECT source_table, status, total_rows_copied"
            " FROM migration_status.migration_table_status ORDER BY source_table"
        ).fetchall()
        for name in names:
            count = conn.execute(f"SELECT count(*) FROM public.{name.lower()}").fetchone()
            assert count == (ROWS_PER_TABLE,), name
    assert runs == [("completed",)]  # one run: the retry resumed the run it had created
    assert [t[0] for t in tables] == names  # each table prepared exactly once
    assert {t[1] for t in tables} == {"completed"}
    # And the same command again is simply complete.
    again = run_cli("migrate", "--config", str(cfg), env=env)
    assert again.returncode == 0 and "already complete" in again.stdout + again.stderr


def test_postgres_cut_during_planning_of_12_tables_completes_without_a_rerun(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    pg_proxy: Proxy,
    tmp_path: Path,
) -> None:
    _cut_during_planning(
        12, sf_conn, sf_database, pg_dsn, pg_database, server_env, pg_proxy, tmp_path
    )


@pytest.mark.slow
def test_postgres_cut_during_planning_of_100_tables_completes_without_a_rerun(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    pg_proxy: Proxy,
    tmp_path: Path,
) -> None:
    _cut_during_planning(
        100, sf_conn, sf_database, pg_dsn, pg_database, server_env, pg_proxy, tmp_path
    )

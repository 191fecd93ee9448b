"""The other CLI commands as a user runs them: demo, progress on a terminal, test-connections."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.migration import (
    cli_command,
    count_rows,
    create_mixed_table,
    make_config,
    run_cli,
    write_config,
)

pytestmark = pytest.mark.integration


def test_demo_runs_a_real_migration_from_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNOWFLAKE_", "POSTGRES_"))}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snowpg.cli.app",
            "demo",
            "--rows",
            "30000",
            "--batch-size",
            "1000",
            "--dir",
            str(tmp_path / "d"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "completed" in out
    for table, rows in (
        ("sales.orders", "30,000"),
        ("sales.customers", "1,500"),
        ("sales.events", "3,000"),
    ):
        assert re.search(rf"ok {table}: {rows} rows in PostgreSQL, {rows} in Snowflake", out), out


def _run_in_pty(args: list[str], env: dict[str, str], timeout: float = 240) -> tuple[int, str]:
    """Run with stdout/stderr on a pseudo-terminal, as in an interactive shell."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        args,
        env={**os.environ, **env, "TERM": "xterm-256color", "COLUMNS": "160"},
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_migrate_draws_progress_bars_on_a_terminal_and_log_lines_otherwise(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_mixed_table(sf_conn, "ORDERS", 8000)
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [{"source": "ORDERS", "truncate_onstart": True}]),
    )
    code, screen = _run_in_pty(cli_command("migrate", "--config", str(cfg)), server_env)
    assert code == 0, screen
    assert "ORDERS" in screen and "rows/s" in screen and "━" in screen  # a rich bar
    assert "8,000/8,000 rows" in screen

    plain = run_cli("migrate", "--config", str(cfg), "--no-resume", env=server_env)
    assert plain.returncode == 0, plain.stderr
    assert "━" not in plain.stderr and "ORDERS: 8,000/8,000 rows" in plain.stderr
    assert count_rows(pg_dsn, "public", "orders") == (8000, 8000)


def test_table_without_a_key_still_migrates_exactly(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cur = sf_conn.cursor()
    cur.execute("CREATE TABLE LOGS (LOGGED_AT TIMESTAMP_NTZ, KIND VARCHAR, N INT)")
    cur.execute(
        "INSERT INTO LOGS SELECT dateadd(second, mod(seq4(), 700), '2024-01-01'::timestamp_ntz), "
        "iff(mod(seq4(), 2) = 0, 'a', 'b'), seq4() FROM TABLE(GENERATOR(ROWCOUNT => 5000))"
    )
    cur.execute("INSERT INTO LOGS VALUES (NULL, 'null time', -1)")  # a NULL in the chosen key
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [{"source": "LOGS"}], batch_size=1000),
    )
    plan = run_cli("plan", "--config", str(cfg), env=server_env)
    assert plan.returncode == 0, plan.stderr
    assert "no primary key" in plan.stdout
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    with psycopg.connect(pg_dsn) as conn:
        got = conn.execute("SELECT count(*), count(DISTINCT n), sum(n) FROM public.logs").fetchone()
        chunks = conn.execute(
            "SELECT count(*) FROM migration_status.migration_chunk_status"
        ).fetchone()
    assert got == (5001, 5001, sum(range(5000)) - 1)
    assert chunks is not None and chunks[0] >= 5


def test_test_connections_reports_each_side(
    sf_conn: Any, sf_database: str, pg_database: str, server_env: dict[str, str], tmp_path: Path
) -> None:
    create_mixed_table(sf_conn, "ORDERS", 10)
    cfg = write_config(
        tmp_path / "c.json", make_config(sf_database, pg_database, [{"source": "ORDERS"}])
    )
    ok = run_cli("test-connections", "--config", str(cfg), env=server_env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"snowflake {sf_database}.PUBLIC" in ok.stdout and "1 table(s) visible" in ok.stdout
    assert f"/{pg_database}" in ok.stdout and "PostgreSQL" in ok.stdout

    bad_env = {
        **server_env,
        "POSTGRES_PORT": "1",
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PASSWORD": "s3cr3t-pw",
    }
    bad = run_cli("test-connections", "--config", str(cfg), env=bad_env)
    assert bad.returncode == 1
    assert "FAILED" in bad.stdout and "s3cr3t-pw" not in bad.stdout + bad.stderr

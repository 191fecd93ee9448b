"""Every way a first command can go wrong, through the installed ``snowpg`` console script.

Each mistake gives one line on stderr (no traceback, no "please report it") and README's exit code:
0 completed, 1 failed, 2 bad input or refused, 3 partial, 130 interrupted.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from snowpg import __version__
from snowpg.demo.servers import StandinServer
from tests.fixtures.migration import count_rows, create_mixed_table, make_config, write_config

SNOWPG = str(Path(sys.executable).parent / "snowpg")
INTERRUPTED = "interrupted: the run can be continued with the same command"


def snowpg(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SNOWPG, *args],
        env={**os.environ, **(env or {}), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "unexpected" not in lines[0] and "please report" not in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def test_the_console_script_is_installed() -> None:
    assert Path(SNOWPG).is_file(), f"{SNOWPG}: run `make install`"


def test_version_prints_the_version_and_exits_0() -> None:
    result = snowpg("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"snowpg {__version__}"
    assert result.stderr == ""


def test_bare_snowpg_prints_the_help_and_exits_0() -> None:
    result = snowpg()
    assert result.returncode == 0, result.stderr
    assert "migrate" in result.stdout and "Usage" in result.stdout
    assert "error" not in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["migrate", "--bogus"], "No such option: --bogus"),
        (["migrate", "--max-seconds", "abc"], "Invalid value for '--max-seconds'"),
        (["status", "--interval", "soon"], "Invalid value for '--interval'"),
        (["migrat"], "No such command 'migrat'"),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_2(args: list[str], expected: str) -> None:
    result = snowpg(*args)
    assert result.returncode == 2, result.stderr
    line = one_error_line(result)
    assert expected in line and "--help" in line, line


def test_a_config_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = snowpg("validate", "--config", str(tmp_path / "nope.json"))
    assert result.returncode == 2
    assert "nope.json not found" in one_error_line(result)


def _chunk_states(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM migration_status.migration_chunk_status GROUP BY status"
        ).fetchall()
    return {str(s): int(n) for s, n in rows}


@pytest.mark.integration
def test_ctrl_c_during_migrate_hands_the_chunks_back_and_the_rerun_completes(
    sf_conn: object,
    sf_database: str,
    pg_database: str,
    pg_dsn: str,
    server_env: dict[str, str],
    tmp_path: Path,
    fakesnow_server: object,
) -> None:
    rows = 40_000
    create_mixed_table(sf_conn, "ORDERS", rows)
    cfg = write_config(
        tmp_path / "config.json",
        make_config(sf_database, pg_database, [{"source": "ORDERS"}], batch_size=500),
    )
    if isinstance(fakesnow_server, StandinServer):
        # 0.3 s more per query, so a loaded machine (the suite runs in 2 processes) cannot
        # finish the run's 80 chunks between seeing 2 of them done and the Ctrl-C
        fakesnow_server.control(execution_s=0.3)
    proc = subprocess.Popen(
        [SNOWPG, "migrate", "--config", str(cfg)],
        env={**os.environ, **server_env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if _chunk_states(pg_dsn).get("completed", 0) >= 2:
                    break
            except psycopg.Error:
                pass  # the status schema is not there yet
            time.sleep(0.1)
        assert proc.poll() is None, "the migration ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        if isinstance(fakesnow_server, StandinServer):
            fakesnow_server.control(reset=True)
    assert proc.returncode == 130, out + err
    assert err.strip().splitlines()[-1] == INTERRUPTED, err
    states = _chunk_states(pg_dsn)
    assert states.get("in_progress", 0) == 0, states
    assert states.get("pending", 0) > 0, states  # it really stopped part way
    with psycopg.connect(pg_dsn) as conn:
        leases = conn.execute(
            "SELECT count(*) FROM migration_status.migration_chunk_status"
            " WHERE lease_owner IS NOT NULL AND status <> 'completed'"
        ).fetchone()
        run = conn.execute("SELECT status FROM migration_status.migration_runs").fetchall()
    assert leases == (0,)
    assert run == [("partial",)]

    status = snowpg("status", "--config", str(cfg), "--json", env=server_env)
    assert status.returncode == 0, status.stderr
    [report] = json.loads(status.stdout)
    assert report["run_status"] == "partial", report
    assert report["eta_seconds"] is None, report  # nobody copies: no ETA
    [table] = report["tables"]
    assert table["chunks_in_progress"] == 0 and table["eta_seconds"] is None, table

    again = snowpg("migrate", "--config", str(cfg), env=server_env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert count_rows(pg_dsn, "public", "orders") == (rows, rows)


@pytest.mark.integration
@pytest.mark.parametrize("missing", ["table", "schema"])
def test_a_missing_snowflake_table_or_schema_is_a_bad_configuration_exit_2(
    missing: str,
    sf_conn: object,
    sf_database: str,
    pg_database: str,
    pg_dsn: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_mixed_table(sf_conn, "ORDERS", 10)
    config = make_config(sf_database, pg_database, [{"source": "ORDERS"}])
    if missing == "table":
        config["sources"][0]["tables"] = [{"source": "NO_SUCH_TABLE"}]
    else:
        config["sources"][0]["source_sf_schema"] = "NO_SUCH_SCHEMA"
    cfg = write_config(tmp_path / "config.json", config)
    for command in ("plan", "migrate"):
        result = snowpg(command, "--config", str(cfg), env=server_env)
        assert result.returncode == 2, (command, result.stdout + result.stderr)
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and "not found in Snowflake" in last, last
        assert "Traceback" not in result.stderr
    with psycopg.connect(pg_dsn) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
    assert tables == (0,)  # nothing written


@pytest.mark.integration
def test_status_and_report_need_no_snowflake_credentials(
    pg_database: str, server_env: dict[str, str], tmp_path: Path
) -> None:
    config = make_config("ANALYTICS", pg_database, [{"source": "ORDERS"}])
    config["snowflake"] = {"account": "${SNOWFLAKE_ACCOUNT}", "user": "${SNOWFLAKE_USER}"}
    cfg = write_config(tmp_path / "config.json", config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNOWFLAKE_")}
    env.update({k: v for k, v in server_env.items() if k.startswith("POSTGRES_")})
    env["COLUMNS"] = "200"
    for args in (["status"], ["status", "--json"], ["report"]):
        result = subprocess.run(
            [SNOWPG, *args, "--config", str(cfg)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, (args, result.stdout + result.stderr)
        assert "SNOWFLAKE" not in result.stderr, result.stderr
    # A command that does talk to Snowflake still says what is missing.
    plan = subprocess.run(
        [SNOWPG, "plan", "--config", str(cfg)], env=env, capture_output=True, text=True, check=False
    )
    assert plan.returncode == 2 and "SNOWFLAKE_ACCOUNT" in plan.stderr, plan.stderr


def test_a_wrong_snowflake_port_fails_in_seconds_naming_host_and_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = make_config("ANALYTICS", "warehouse", [{"source": "ORDERS"}])
    cfg = write_config(tmp_path / "config.json", config)
    env = {
        "SNOWFLAKE_ACCOUNT": "fakesnow",
        "SNOWFLAKE_USER": "snowpg",
        "SNOWFLAKE_PASSWORD": "not-used",
        "SNOWFLAKE_HOST": "127.0.0.1",
        "SNOWFLAKE_PORT": str(port),
        "SNOWFLAKE_PROTOCOL": "http",
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_USER": "nobody",
    }
    started = time.monotonic()
    result = snowpg("plan", "--config", str(cfg), env=env)
    assert time.monotonic() - started < 15, "a refused port must not wait for the login timeout"
    assert result.returncode == 1, result.stderr
    line = one_error_line(result)
    assert f"connecting to Snowflake 127.0.0.1:{port}: connection refused" in line, line
    assert "SNOWFLAKE_PORT" in line and "not-used" not in line


@pytest.mark.integration
def test_preflight_names_every_problem_at_once_and_plan_agrees_with_migrate(
    sf_conn: object,
    sf_database: str,
    pg_database: str,
    pg_dsn: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    for name in ("A1", "B1", "C1"):
        create_mixed_table(sf_conn, name, 20)
    tables = [{"source": "A1"}, {"source": "B1"}, {"source": "C1"}, {"source": "NO_SUCH"}]
    cfg = write_config(tmp_path / "config.json", make_config(sf_database, pg_database, tables))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for t in ("a1", "b1"):  # two targets that already have rows
            conn.execute(f"CREATE TABLE public.{t} (id numeric(38,0))")
            conn.execute(f"INSERT INTO public.{t} VALUES (1)")

    plan = snowpg("plan", "--config", str(cfg), env=server_env)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    for table in ("A1", "B1"):
        assert re.search(rf"{table}\s.*refused: target has rows", plan.stdout), plan.stdout
    assert re.search(r"C1\s.*\screate\s", plan.stdout), plan.stdout
    plan_line = one_error_line(plan)

    migrate = snowpg("migrate", "--config", str(cfg), env=server_env)
    assert migrate.returncode == 2, migrate.stdout + migrate.stderr
    line = migrate.stderr.strip().splitlines()[-1]
    assert line.startswith("error: 3 problems, nothing was written"), line
    assert "public.a1 already has rows" in line and "public.b1 already has rows" in line, line
    assert "NO_SUCH not found in Snowflake" in line, line
    assert line == plan_line  # plan reports exactly what migrate refuses
    validate = snowpg("validate", "--connect", "--config", str(cfg), env=server_env)
    assert validate.returncode == 2, validate.stdout + validate.stderr
    assert one_error_line(validate) == line
    assert re.search(r"A1 -> public\.a1: refused: target has rows", validate.stdout), (
        validate.stdout
    )
    with psycopg.connect(pg_dsn) as conn:
        made = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
    assert made == [("a1",), ("b1",)]  # c1 was not created: nothing written


@pytest.mark.integration
def test_a_missing_target_database_is_a_bad_configuration_exit_2(
    sf_conn: object, sf_database: str, server_env: dict[str, str], tmp_path: Path
) -> None:
    create_mixed_table(sf_conn, "ORDERS", 10)
    config = make_config(sf_database, "no_such_db", [{"source": "ORDERS"}])
    cfg = write_config(tmp_path / "config.json", config)
    for command in ("plan", "migrate"):
        result = snowpg(command, "--config", str(cfg), env=server_env)
        assert result.returncode == 2, (command, result.stdout + result.stderr)
        last = result.stderr.strip().splitlines()[-1]
        assert "target database no_such_db does not exist" in last, last
        assert "CREATE DATABASE no_such_db" in last, last

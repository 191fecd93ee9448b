"""Faults during a run: each test ends with ``snowpg verify`` proving the target exact.

Covered: the PostgreSQL connection cut inside a COPY (proxy), PostgreSQL killing the workers'
backends mid-run (``pg_terminate_backend``: a real server-side fault; a real restart, on a private
server, is in test_restart_slow.py), the Snowflake connection dropped
during a fetch (proxy in front of the fakesnow HTTP port), and a poison chunk that always fails.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.faults.helpers import (
    SLOW_COPY,
    copy_backends,
    drop_slow_trigger,
    finish_and_verify,
    wait_for_copy,
    wait_or_kill,
)
from tests.fixtures.migration import (
    NO_PK_TARGET,
    chunk_rows,
    count_rows,
    create_mixed_table,
    make_config,
    run_cli,
    spawn_cli,
    write_config,
)
from tests.fixtures.proxy import Proxy

pytestmark = pytest.mark.integration

ROWS = 6_000


def _setup(sf_conn: Any, sf_database: str, pg_dsn: str, pg_database: str, tmp_path: Path) -> Path:
    create_mixed_table(sf_conn, "ORDERS", ROWS)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(NO_PK_TARGET)
        conn.execute(SLOW_COPY)
    return write_config(
        tmp_path / "c.json",
        make_config(
            sf_database,
            pg_database,
            [{"source": "ORDERS"}],
            batch_size=1000,
            parallel_threads=2,
            max_retry_attempts=5,
            retry_backoff_seconds=0.2,
        ),
    )


def test_postgres_connection_cut_inside_copy(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    pg_proxy: Proxy,
    tmp_path: Path,
) -> None:
    cfg = _setup(sf_conn, sf_database, pg_dsn, pg_database, tmp_path)
    env = {**server_env, "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(pg_proxy.port)}
    proc = spawn_cli("migrate", "--config", str(cfg), env=env, log=tmp_path / "run.log")
    cuts = 0
    for _ in range(3):
        if not wait_for_copy(pg_dsn, proc):
            break
        cuts += pg_proxy.cut() > 0
        time.sleep(0.5)
    code = wait_or_kill(proc, tmp_path / "run.log")
    log = (tmp_path / "run.log").read_text()
    assert cuts >= 1, log
    assert "server closed the connection unexpectedly" in log or "retry 1 of 5" in log, log
    assert "error ignored" not in log, log  # no raw driver lines after a cut
    assert count_rows(pg_dsn, "public", "orders")[0] <= ROWS
    drop_slow_trigger(pg_dsn)
    finish_and_verify(cfg, pg_dsn, env, ROWS, code)


@pytest.mark.slow  # the real restart (test_restart_slow.py) and the proxy cut cover the default run
def test_postgres_terminates_worker_backends_mid_run(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cfg = _setup(sf_conn, sf_database, pg_dsn, pg_database, tmp_path)
    proc = spawn_cli("migrate", "--config", str(cfg), env=server_env, log=tmp_path / "run.log")
    killed = 0
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        for _ in range(3):
            if not wait_for_copy(pg_dsn, proc):
                break
            for pid in copy_backends(pg_dsn):
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                killed += 1
            time.sleep(0.5)
    code = wait_or_kill(proc, tmp_path / "run.log")
    log = (tmp_path / "run.log").read_text()
    assert killed >= 1, log
    # The run retried the killed chunks itself: it completes without a rerun.
    assert code == 0, log
    assert "retry 1 of 5" in log
    drop_slow_trigger(pg_dsn)
    finish_and_verify(cfg, pg_dsn, server_env, ROWS, code, reruns=0)


def test_snowflake_connection_dropped_during_fetch(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    fakesnow_proxy: Proxy,
    tmp_path: Path,
) -> None:
    cfg = _setup(sf_conn, sf_database, pg_dsn, pg_database, tmp_path)
    drop_slow_trigger(pg_dsn)  # here the fault is on the reading side
    env = {**server_env, "SNOWFLAKE_PORT": str(fakesnow_proxy.port)}
    # A chunk's result (1000 mixed rows, ~150 KB) is cut after 40 KB, three times.
    fakesnow_proxy.drop_after_bytes = 40_000
    fakesnow_proxy.max_drops = 3
    proc = spawn_cli("migrate", "--config", str(cfg), env=env, log=tmp_path / "run.log")
    code = wait_or_kill(proc, tmp_path / "run.log")
    log = (tmp_path / "run.log").read_text()
    assert fakesnow_proxy.drops == 3, log  # three fetches lost their connection mid-response
    # connector 4.x: urllib3's IncompleteRead; 5.x: 000006 "end of file before message length"
    cut = "IncompleteRead" in log or "end of file before message length reached" in log
    assert cut and "retry 1 of 5" in log
    finish_and_verify(cfg, pg_dsn, env, ROWS, code)


def test_poison_chunk_fails_alone_after_retries_and_rerun_completes(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cfg = _setup(sf_conn, sf_database, pg_dsn, pg_database, tmp_path)
    drop_slow_trigger(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        # Always a serialization failure (a transient class) on the row with id 1500.
        conn.execute(
            "CREATE FUNCTION public.poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.id = 1500 THEN RAISE EXCEPTION 'poison row' USING ERRCODE = '40001'; END IF;"
            " RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON public.orders"
            " FOR EACH ROW EXECUTE FUNCTION public.poison()"
        )
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "retry 5 of 5" in out and "poison row" in out
    chunks = chunk_rows(pg_dsn)
    failed = [c for c in chunks if c[2] == "failed"]
    assert len(failed) == 1 and failed[0][4] == 5 and "poison row" in failed[0][5]
    assert {c[2] for c in chunks if c not in failed} == {"completed"}
    done = sum(c[3] for c in chunks if c[2] == "completed")
    assert count_rows(pg_dsn, "public", "orders") == (done, done) and done == ROWS - 1000
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DROP TRIGGER poison ON public.orders")
    finish_and_verify(cfg, pg_dsn, server_env, ROWS, result.returncode, reruns=1)

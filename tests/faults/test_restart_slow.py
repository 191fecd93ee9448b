"""A real PostgreSQL restart during a run, on a private embedded server (so the session's shared
server is never restarted under other tests). Slow: starting a cluster takes several seconds."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from snowpg.demo.servers import postgres_from_dsn
from tests.faults.helpers import (
    SLOW_COPY,
    drop_slow_trigger,
    finish_and_verify,
    wait_for_copy,
    wait_or_kill,
)
from tests.fixtures.migration import (
    NO_PK_TARGET,
    count_rows,
    create_mixed_table,
    make_config,
    spawn_cli,
    write_config,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROWS = 6_000


def test_postgres_restarted_during_a_run(
    sf_conn: Any,
    sf_database: str,
    fakesnow_server: Any,
    tmp_path: Path,
) -> None:
    import pgserver
    from pgserver import _commands

    server = pgserver.get_server(str(tmp_path / "pgdata"), cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        pg = postgres_from_dsn(server.get_uri())
        db = f"t_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        dsn = pg.dsn(db)
        create_mixed_table(sf_conn, "ORDERS", ROWS)
        with psycopg.connect(dsn) as conn:
            conn.execute(NO_PK_TARGET)
            conn.execute(SLOW_COPY)
        cfg = write_config(
            tmp_path / "c.json",
            make_config(
                sf_database,
                db,
                [{"source": "ORDERS"}],
                batch_size=1000,
                max_retry_attempts=6,
                retry_backoff_seconds=0.5,
            ),
        )
        env = {**fakesnow_server.env(), **pg.env()}
        proc = spawn_cli("migrate", "--config", str(cfg), env=env, log=tmp_path / "run.log")
        restarts = 0
        for _ in range(2):
            if not wait_for_copy(dsn, proc):
                break
            _commands.pg_ctl(
                ["-w", "-m", "fast", "-l", str(server.log), "restart"],
                pgdata=server.pgdata,
                user=server.system_user,
                timeout=60,
            )
            restarts += 1
            time.sleep(1.0)
        code = wait_or_kill(proc, tmp_path / "run.log", timeout=180)
        log = (tmp_path / "run.log").read_text()
        assert restarts >= 1, log
        # The workers retried through the restart and the run finished by itself.
        assert code == 0, log
        assert "retry 1 of 6" in log
        assert count_rows(dsn, "public", "orders")[0] <= ROWS
        drop_slow_trigger(dsn)
        finish_and_verify(cfg, dsn, env, ROWS, code)
    finally:
        # After a restart pgserver's handle no longer knows the postmaster: stop it by data dir.
        _commands.pg_ctl(
            ["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user
        )

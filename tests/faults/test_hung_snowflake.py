"""A Snowflake peer that keeps the connection but stops answering is detected and retried.

Every connection open through the proxy is frozen mid-run: the client's reads then block until
``socket_timeout`` (SNOWPG_SF_SOCKET_TIMEOUT_SECONDS here); the request is retried on a new
connection, which passes, and the run completes exactly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.faults.helpers import finish_and_verify, wait_or_kill
from tests.fixtures.migration import (
    NO_PK_TARGET,
    create_mixed_table,
    make_config,
    spawn_cli,
    write_config,
)
from tests.fixtures.proxy import Proxy

pytestmark = pytest.mark.integration

ROWS = 6_000
SOCKET_TIMEOUT_S = 4.0


def _done_chunks(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        found = conn.execute("SELECT to_regclass('migration_status.migration_chunk_status')")
        if found.fetchone() == (None,):
            return 0
        row = conn.execute(
            "SELECT count(*) FROM migration_status.migration_chunk_status"
            " WHERE status = 'completed'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_frozen_snowflake_connection_is_timed_out_and_retried(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    fakesnow_proxy: Proxy,
    tmp_path: Path,
) -> None:
    create_mixed_table(sf_conn, "ORDERS", ROWS)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(NO_PK_TARGET)
    cfg = write_config(
        tmp_path / "c.json",
        make_config(
            sf_database,
            pg_database,
            [{"source": "ORDERS"}],
            batch_size=500,
            parallel_threads=2,
            max_retry_attempts=5,
            retry_backoff_seconds=0.2,
        ),
    )
    env = {
        **server_env,
        "SNOWFLAKE_PORT": str(fakesnow_proxy.port),
        "SNOWPG_SF_SOCKET_TIMEOUT_SECONDS": str(SOCKET_TIMEOUT_S),
    }
    log = tmp_path / "run.log"
    proc = spawn_cli("migrate", "--config", str(cfg), env=env, log=log)
    deadline = time.monotonic() + 120
    while _done_chunks(pg_dsn) < 1:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    frozen = fakesnow_proxy.freeze()
    frozen_at = time.monotonic()
    assert frozen >= 1
    code = wait_or_kill(proc, log, 240)
    took = time.monotonic() - frozen_at
    assert code == 0, log.read_text()
    # Bounded: the stall costs about one socket timeout per frozen request, not a hang.
    assert took < 60, took
    finish_and_verify(cfg, pg_dsn, env, ROWS, code)

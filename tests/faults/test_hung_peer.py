"""A PostgreSQL server that keeps the connection but stops answering is cut and retried.

The worker's backend is frozen with SIGSTOP in the middle of a COPY: the kernel keeps
acknowledging, so keepalives see nothing wrong. The watchdog (snowpg.postgres.watchdog) must cut
the connection within SNOWPG_PG_STALL_SECONDS (+ its 0.5 s check interval), and the run completes.
"""

from __future__ import annotations

import os
import signal
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
    create_mixed_table,
    make_config,
    spawn_cli,
    write_config,
)

pytestmark = pytest.mark.integration

ROWS = 6_000
STALL_S = 3.0


def test_frozen_postgres_backend_is_cut_within_the_stall_bound_and_the_run_completes(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    if os.environ.get("SNOWPG_TEST_POSTGRES_DSN"):
        pytest.skip("freezes a server backend with SIGSTOP: needs the embedded local server")
    create_mixed_table(sf_conn, "ORDERS", ROWS)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(NO_PK_TARGET)
        conn.execute(SLOW_COPY)
    cfg = write_config(
        tmp_path / "c.json",
        make_config(
            sf_database,
            pg_database,
            [{"source": "ORDERS"}],
            batch_size=1000,
            parallel_threads=2,
            max_retry_attempts=5,
            retry_backoff_seconds=0.2,
            lease_seconds=30,
        ),
    )
    env = {**server_env, "SNOWPG_PG_STALL_SECONDS": str(STALL_S)}
    log = tmp_path / "run.log"
    proc = spawn_cli("migrate", "--config", str(cfg), env=env, log=log)
    assert wait_for_copy(pg_dsn, proc), log.read_text()
    pid = copy_backends(pg_dsn)[0]
    os.kill(pid, signal.SIGSTOP)
    frozen_at = time.monotonic()
    try:
        while "made no progress" not in log.read_text(errors="replace"):
            assert time.monotonic() - frozen_at < STALL_S + 10, log.read_text()
            time.sleep(0.1)
        detected = time.monotonic() - frozen_at
    finally:
        # The server recovers: the backend finds its client gone and rolls back.
        os.kill(pid, signal.SIGCONT)
    assert detected <= STALL_S + 2, detected
    code = wait_or_kill(proc, log, 240)
    drop_slow_trigger(pg_dsn)
    finish_and_verify(cfg, pg_dsn, env, ROWS, code)

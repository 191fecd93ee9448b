"""A chunk's COMMIT reaches PostgreSQL but its reply is lost: counted once, and honestly.

The proxy forwards the COMMIT that follows a COPY and cuts the connection before the reply.
The rows are committed; the worker cannot know, retries, finds the chunk completed under its own
claim, and counts it as its own (not as "taken over by another worker").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.faults.helpers import finish_and_verify
from tests.fixtures.migration import (
    NO_PK_TARGET,
    create_mixed_table,
    make_config,
    run_cli,
    write_config,
)
from tests.fixtures.proxy import Proxy

pytestmark = pytest.mark.integration

ROWS = 6_000


def test_lost_commit_reply_counts_the_chunk_once_as_this_workers(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    pg_proxy: Proxy,
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
            batch_size=1000,
            parallel_threads=1,
            max_retry_attempts=5,
            retry_backoff_seconds=0.2,
        ),
    )
    env = {**server_env, "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(pg_proxy.port)}
    pg_proxy.lose_commit_replies = 2
    result = run_cli("migrate", "--config", str(cfg), env=env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert pg_proxy.lose_commit_replies == 0, "no COMMIT reply was lost"
    assert out.count("already committed by this worker") == 2, out
    assert "taken over by another worker" not in out, out
    copied = re.search(r"copied by this process: ([\d,]+)", out)
    retries = re.search(r"retries: (\d+)", out)
    assert copied and int(copied.group(1).replace(",", "")) == ROWS, out
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute(
            "SELECT sum(rows_copied), sum(retry_count) FROM migration_status.migration_chunk_status"
        ).fetchone()
    assert row is not None and row[0] == ROWS
    assert retries and int(retries.group(1)) == row[1], out  # summary agrees with status rows
    finish_and_verify(cfg, pg_dsn, env, ROWS, 0)

"""Crashes, concurrent processes, transient and permanent failures: nothing lost or duplicated."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.migration import (
    MIXED_SOURCE_COLS,
    MIXED_TARGET_COLS,
    NO_PK_TARGET,
    chunk_rows,
    compare_mixed,
    count_rows,
    create_mixed_table,
    make_config,
    run_cli,
    source_rows,
    spawn_cli,
    target_rows,
    write_config,
)

pytestmark = pytest.mark.integration


# A real server-side delay of 50 ms per COPY statement, so a run lasts long enough to be
# interrupted (or joined) whatever the machine's speed.
SLOW_COPY_FUNCTION = (
    "CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$"
)
SLOW_COPY_TRIGGER = "CREATE TRIGGER slow AFTER INSERT ON public.orders FOR EACH STATEMENT EXECUTE FUNCTION public.slow()"


def _completed_chunks(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT to_regclass('migration_status.migration_chunk_status')"
        ).fetchone()
        if not found or found[0] is None:
            return 0
        row = conn.execute(
            "SELECT count(*) FROM migration_status.migration_chunk_status WHERE status = 'completed'"
        ).fetchone()
    return int(row[0]) if row else 0


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkill_at_random_moments_then_rerun_is_exact(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    rows = 40_000
    create_mixed_table(sf_conn, "ORDERS", rows)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(NO_PK_TARGET)
        conn.execute(SLOW_COPY_FUNCTION)
        conn.execute(SLOW_COPY_TRIGGER)
    cfg = write_config(
        tmp_path / "c.json",
        make_config(
            sf_database, pg_database, [{"source": "ORDERS"}], batch_size=1000, parallel_threads=3
        ),
    )
    rng = random.Random()
    seed = rng.randrange(1_000_000)
    rng.seed(seed)
    kills = 0
    for attempt in range(2):
        proc = spawn_cli(
            "migrate", "--config", str(cfg), env=server_env, log=tmp_path / f"run{attempt}.log"
        )
        before = _completed_chunks(pg_dsn)
        _wait_for(
            lambda b=before, p=proc: _completed_chunks(pg_dsn) > b or p.poll() is not None,
            120,
            "a chunk",
        )
        time.sleep(rng.uniform(0.0, 0.8))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(30)
    assert kills >= 1, f"the migration finished before it could be killed (seed {seed})"

    final = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert final.returncode == 0, final.stdout + final.stderr
    total, distinct = count_rows(pg_dsn, "public", "orders")
    assert (total, distinct) == (rows, rows), f"seed {seed}"
    compare_mixed(
        source_rows(sf_conn, "ORDERS", MIXED_SOURCE_COLS, "ID"),
        target_rows(pg_dsn, "public", "orders", MIXED_TARGET_COLS, "id"),
    )
    chunks = chunk_rows(pg_dsn)
    assert {c[2] for c in chunks} == {"completed"}
    assert sum(c[3] for c in chunks) == rows  # every chunk's rows counted once


def test_two_processes_on_one_run_never_copy_a_chunk_twice(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    rows = 60_000
    create_mixed_table(sf_conn, "ORDERS", rows)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(NO_PK_TARGET)
        # Each chunk's COPY takes >= 50 ms, so one process cannot finish before the other starts.
        conn.execute(SLOW_COPY_FUNCTION)
        conn.execute(SLOW_COPY_TRIGGER)
    cfg = write_config(
        tmp_path / "c.json",
        make_config(
            sf_database, pg_database, [{"source": "ORDERS"}], batch_size=500, parallel_threads=1
        ),
    )
    # Started together: one creates the run under the advisory lock, the other waits and joins it.
    a = spawn_cli("migrate", "--config", str(cfg), env=server_env, log=tmp_path / "a.log")
    b = spawn_cli("migrate", "--config", str(cfg), env=server_env, log=tmp_path / "b.log")
    assert a.wait(240) == 0, (tmp_path / "a.log").read_text()
    assert b.wait(240) == 0, (tmp_path / "b.log").read_text()
    out_a, out_b = (tmp_path / "a.log").read_text(), (tmp_path / "b.log").read_text()
    assert ("resumed" in out_a) != ("resumed" in out_b)  # one started the run, the other joined it
    assert count_rows(pg_dsn, "public", "orders") == (rows, rows)
    chunks = chunk_rows(pg_dsn)
    assert len(chunks) >= 120 and {c[2] for c in chunks} == {"completed"}
    assert sum(c[3] for c in chunks) == rows
    with psycopg.connect(pg_dsn) as conn:
        runs = conn.execute("SELECT count(*) FROM migration_status.migration_runs").fetchone()
    assert runs == (1,)
    copied = [_copied_by_process(out) for out in (out_a, out_b)]
    assert sum(copied) == rows and min(copied) > 0, copied


def _copied_by_process(output: str) -> int:
    marker = "copied by this process: "
    start = output.index(marker) + len(marker)
    return int(output[start:].split(" ", 1)[0].replace(",", ""))


TRIGGER = """
CREATE SEQUENCE public.fault_seq;
CREATE FUNCTION public.fault() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id = 1500 AND nextval('public.fault_seq') <= {times} THEN
    RAISE EXCEPTION 'injected fault' USING ERRCODE = '{sqlstate}';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER fault BEFORE INSERT ON public.orders FOR EACH ROW EXECUTE FUNCTION public.fault();
"""


def test_transient_failure_is_retried_with_backoff_and_counted(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_mixed_table(sf_conn, "ORDERS", 3000)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(NO_PK_TARGET)
        # A real PostgreSQL serialization failure (SQLSTATE 40001), twice, on the row with id 1500.
        conn.execute(TRIGGER.format(times=2, sqlstate="40001"))
    cfg = write_config(
        tmp_path / "c.json",
        make_config(
            sf_database,
            pg_database,
            [{"source": "ORDERS"}],
            batch_size=1000,
            retry_backoff_seconds=0.5,
        ),
    )
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "retry 1 of 3" in result.stderr and "retry 2 of 3" in result.stderr
    assert count_rows(pg_dsn, "public", "orders") == (3000, 3000)
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            "SELECT chunk_range, retry_count, extract(epoch FROM completed_at - started_at) "
            "FROM migration_status.migration_chunk_status ORDER BY chunk_id"
        ).fetchall()
    retried = [r for r in rows if r[1] > 0]
    assert len(retried) == 1 and retried[0][1] == 2
    # Backoff: 0.5 s x (1 + 2) with jitter in [0.5, 1) -> at least 0.75 s between start and finish.
    assert float(retried[0][2]) >= 0.75


def test_permanent_failure_names_the_chunk_exits_non_zero_and_rerun_completes(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_mixed_table(sf_conn, "ORDERS", 3000)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(NO_PK_TARGET)
        conn.execute(TRIGGER.format(times=1_000_000, sqlstate="23514"))
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [{"source": "ORDERS"}], batch_size=1000),
    )
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "ORDERS" in out and "chunk 2" in out and "injected fault" in out
    total, _ = count_rows(pg_dsn, "public", "orders")
    assert total == 2000
    assert "rows in target for this run: 2,000" in result.stdout  # summary == target
    with psycopg.connect(pg_dsn) as conn:
        run = conn.execute("SELECT status FROM migration_status.migration_runs").fetchone()
        failed = conn.execute(
            "SELECT chunk_id, error_message, retry_count, completed_at IS NOT NULL"
            " FROM migration_status.migration_chunk_status WHERE status = 'failed'"
        ).fetchall()
        conn.execute("DROP TRIGGER fault ON public.orders")
    assert run == ("failed",)
    assert len(failed) == 1 and "injected fault" in failed[0][1]
    # A permanent error is not retried: retry_count says so truthfully (docs/MONITORING.md).
    assert failed[0][2:] == (0, True)

    rerun = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert count_rows(pg_dsn, "public", "orders") == (3000, 3000)


def test_exhausted_transient_retries_leave_the_chunk_failed_with_retry_count_at_the_maximum(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    # The existing tool's repair queries look for failed chunks with retry_count >= 3.
    create_mixed_table(sf_conn, "ORDERS", 3000)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(NO_PK_TARGET)
        conn.execute(TRIGGER.format(times=1_000_000, sqlstate="40001"))
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [{"source": "ORDERS"}], batch_size=1000),
    )
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "retry 3 of 3" in result.stderr and "retry 4" not in result.stderr
    with psycopg.connect(pg_dsn) as conn:
        found = conn.execute(
            "SELECT chunk_id, retry_count, error_message FROM migration_status.migration_chunk_status"
            " WHERE status = 'failed' AND retry_count >= 3 AND completed_at IS NOT NULL"
        ).fetchall()
        failed = conn.execute(
            "SELECT count(*) FROM migration_status.migration_chunk_status WHERE status = 'failed'"
        ).fetchone()
    assert len(found) == 1 and found[0][1] == 3 and "injected fault" in found[0][2]
    assert failed == (1,)

    # A rerun reopens the chunk with a full retry budget again (not failed at its first error);
    # retry_count goes on counting the run's retries.
    again = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "retry 3 of 3" in again.stderr and "retry 4" not in again.stderr
    with psycopg.connect(pg_dsn) as conn:
        counts = conn.execute(
            "SELECT retry_count FROM migration_status.migration_chunk_status"
            " WHERE status = 'failed'"
        ).fetchall()
    assert counts == [(6,)]

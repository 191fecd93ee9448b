"""Shared steps of the fault tests: a slow target, waiting for a live COPY, finishing and proving."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg

from tests.fixtures.migration import count_rows, run_cli

# Each COPY statement stays open >= 0.3 s after its rows arrived, so a fault lands inside it.
SLOW_COPY = """
CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$;
CREATE TRIGGER slow AFTER INSERT ON public.orders FOR EACH STATEMENT EXECUTE FUNCTION public.slow();
"""


def copy_backends(dsn: str) -> list[int]:
    """Backend pids of snowpg workers running a COPY right now."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'snowpg-worker'"
            " AND state = 'active' AND query ILIKE 'COPY%'"
        ).fetchall()
    return [int(r[0]) for r in rows]


def wait_for_copy(dsn: str, proc: Any, timeout: float = 60) -> bool:
    """True once a worker is inside a COPY; False if the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if copy_backends(dsn):
            return True
        time.sleep(0.05)
    raise AssertionError("no COPY started in time")


def drop_slow_trigger(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("DROP TRIGGER IF EXISTS slow ON public.orders")


def finish_and_verify(
    cfg: Path, dsn: str, env: dict[str, str], rows: int, code: int, reruns: int = 2
) -> str:
    """Rerun migrate (while its last exit ``code`` is not 0) until it completes, then prove the
    target exact with snowpg verify."""
    out = ""
    for _ in range(reruns):
        if code == 0:
            break
        result = run_cli("migrate", "--config", str(cfg), env=env)
        out = result.stdout + result.stderr
        code = result.returncode
    assert code == 0, f"migrate did not complete after {reruns} rerun(s):\n{out}"
    assert count_rows(dsn, "public", "orders") == (rows, rows)
    verified = run_cli("verify", "--config", str(cfg), env=env)
    vout = verified.stdout + verified.stderr
    assert verified.returncode == 0, vout
    assert "1 of 1 table(s) verified equal, 0 differing row(s)" in vout
    with psycopg.connect(dsn) as conn:
        chunks = conn.execute(
            "SELECT status, rows_copied, verify_status FROM migration_status.migration_chunk_status"
        ).fetchall()
    assert {c[0] for c in chunks} == {"completed"} and {c[2] for c in chunks} == {"match"}
    assert sum(c[1] for c in chunks) == rows  # every row counted once
    return out


def wait_or_kill(proc: Any, log: Path, timeout: float = 120) -> int:
    """The process's exit code; a process still running after ``timeout`` is killed and fails."""
    try:
        return int(proc.wait(timeout))
    except Exception:
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"migrate hung; its log:\n{log.read_text()}") from None

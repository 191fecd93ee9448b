"""Fresh runs beside live ones (docs/design.md, "Fresh runs beside live ones").

A fresh run (``--no-resume``, or the first run of a source) never starts while a process of the
source's current run is alive, and rows of a run that was replaced never commit.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from snowpg.status import presence, store
from snowpg.status.schema import ensure_schema
from tests.faults.helpers import SLOW_COPY, wait_for_copy, wait_or_kill
from tests.fixtures.migration import (
    NO_PK_TARGET,
    count_rows,
    create_mixed_table,
    make_config,
    spawn_cli,
    write_config,
)

pytestmark = pytest.mark.integration

ROWS = 12_000


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
            [{"source": "ORDERS", "truncate_onstart": True}],
            batch_size=1000,
            parallel_threads=2,
        ),
    )


def _runs(dsn: str) -> list[tuple[str, str | None]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT status, error_message FROM migration_status.migration_runs ORDER BY started_at"
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


@pytest.mark.parametrize("processes", [2, 3])
def test_parallel_no_resume_processes_never_duplicate_a_row(
    processes: int,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cfg = _setup(sf_conn, sf_database, pg_dsn, pg_database, tmp_path)
    logs = [tmp_path / f"p{i}.log" for i in range(processes)]
    procs = [
        spawn_cli("migrate", "--config", str(cfg), "--no-resume", env=server_env, log=log)
        for log in logs
    ]
    codes = [wait_or_kill(p, log, 180) for p, log in zip(procs, logs, strict=True)]
    outputs = [log.read_text() for log in logs]
    # Each process either ran a whole fresh run, or was refused beside the live one.
    for code, out in zip(codes, outputs, strict=True):
        assert code in (0, 2), out
        if code == 2:
            assert "live process" in out and "load the same rows twice" in out, out
    assert 0 in codes, outputs
    assert count_rows(pg_dsn, "public", "orders") == (ROWS, ROWS)
    runs = _runs(pg_dsn)
    assert runs[-1][0] == "completed", runs
    # Each chunk of the newest run counted once; replaced runs are never written back.
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute(
            "SELECT sum(c.rows_copied), count(*) FILTER (WHERE c.status <> 'completed')"
            " FROM migration_status.migration_chunk_status c WHERE c.run_id ="
            " (SELECT run_id FROM migration_status.migration_runs ORDER BY started_at DESC LIMIT 1)"
        ).fetchone()
    assert row == (ROWS, 0)
    assert all(status == "failed" for status, _ in runs[:-1]), runs


def test_no_resume_beside_a_live_run_is_refused_and_names_the_process(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cfg = _setup(sf_conn, sf_database, pg_dsn, pg_database, tmp_path)
    first = spawn_cli("migrate", "--config", str(cfg), env=server_env, log=tmp_path / "a.log")
    assert wait_for_copy(pg_dsn, first), (tmp_path / "a.log").read_text()
    second = spawn_cli(
        "migrate", "--config", str(cfg), "--no-resume", env=server_env, log=tmp_path / "b.log"
    )
    assert wait_or_kill(second, tmp_path / "b.log", 120) == 2
    refused = (tmp_path / "b.log").read_text()
    assert "is still being worked by 1 live process(es)" in refused, refused
    assert "snowpg migrate" in refused  # the live process's application_name: host and pid
    assert wait_or_kill(first, tmp_path / "a.log", 180) == 0, (tmp_path / "a.log").read_text()
    assert count_rows(pg_dsn, "public", "orders") == (ROWS, ROWS)
    assert [s for s, _ in _runs(pg_dsn)] == ["completed"]


def _one_chunk_run(conn: psycopg.Connection[Any]) -> tuple[uuid.UUID, Any]:
    run_id = store.create_run(conn, source_name="src", config_hash="h", created_by="t", metadata={})
    store.add_table(
        conn, run_id=run_id, source_name="src", source_database="DB", source_schema="PUBLIC",
        source_table="T", target_database="pg", target_schema="public", target_table="t",
        chunks=[(i, {"columns": ["ID"], "lower": [str(i)], "upper": [str(i + 1)]}, 10)
                for i in range(2)],
        estimated_rows=20, chunking_method="range", metadata={},
    )  # fmt: skip
    conn.commit()
    return run_id, None


def test_a_chunk_of_a_replaced_run_never_commits_and_no_chunk_is_claimed(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as worker, psycopg.connect(pg_dsn, autocommit=True) as other:
        ensure_schema(worker)
        run_id, _ = _one_chunk_run(worker)
        claim = store.claim_chunk(worker, run_id, "w1", 60)
        assert claim is not None
        assert store.lock_claim(worker, claim, "w1")
        # Another process replaces the run while the chunk's rows are in flight.
        store.set_run_status(other, run_id, "failed", "abandoned: a fresh run was started")
        with pytest.raises(store.RunAbandoned, match="no longer running"):
            store.complete_chunk(worker, claim, rows_copied=10, bytes_copied=70, duration_seconds=1)
        worker.rollback()
        assert store.claim_chunk(worker, run_id, "w1", 60) is None
        counts = store.chunk_status_counts(worker, run_id)
        worker.rollback()
        assert counts["completed"] == 0


def test_live_processes_are_the_holders_of_the_run_lock(pg_dsn: str) -> None:
    run_id = uuid.uuid4()
    with psycopg.connect(pg_dsn) as holder, psycopg.connect(pg_dsn) as asker:
        assert presence.live_processes(asker, run_id) == []
        presence.join_run(holder, run_id, "host-a:4242")
        live = presence.live_processes(asker, run_id)
        assert len(live) == 1 and "snowpg migrate host-a:4242" in live[0], live
        assert presence.live_processes(asker, uuid.uuid4()) == []
        holder.close()
        deadline = time.monotonic() + 10
        while presence.live_processes(asker, run_id) and time.monotonic() < deadline:
            asker.rollback()
            time.sleep(0.05)
        assert presence.live_processes(asker, run_id) == []

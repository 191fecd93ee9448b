"""The run's cap on concurrent Snowflake chunk queries (snowpg.status.slots), across processes."""

from __future__ import annotations

import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from snowpg.config import Settings
from snowpg.copy.connections import WorkerConnections
from snowpg.copy.context import WorkerContext
from snowpg.demo.servers import StandinServer
from snowpg.sinks import ProgressSink
from snowpg.status import slots
from tests.faults.helpers import wait_or_kill
from tests.fixtures.migration import (
    NO_PK_TARGET,
    count_rows,
    create_mixed_table,
    make_config,
    spawn_cli,
    write_config,
)

pytestmark = pytest.mark.integration

# The chunk queries of the mixed table: SELECT of its columns with a key-range predicate.
CHUNK_QUERY = r'^SELECT "ID", "Payer Id", .* WHERE '


def _advisory_locks(conn: psycopg.Connection[Any], pid: int) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s", (pid,)
    ).fetchone()
    conn.rollback()
    return int(row[0]) if row else 0


def test_slots_are_n_session_locks_freed_by_give_back_and_by_a_closed_session(
    pg_dsn: str,
) -> None:
    run_id, other_run = uuid.uuid4(), uuid.uuid4()
    conns = [psycopg.connect(pg_dsn) for _ in range(4)]
    try:
        a, b, c, watcher = conns
        assert slots.try_take(a, run_id, 2, start=1) == 1
        assert slots.try_take(b, run_id, 2, start=1) == 0  # 1 is taken: the next one round
        assert slots.try_take(c, run_id, 2) is None
        assert slots.try_take(c, other_run, 2) is not None  # each run has its own slots
        # One lock per take, however many slots were tried; no transaction left open.
        assert _advisory_locks(watcher, b.info.backend_pid) == 1
        assert b.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

        slots.give_back(a, run_id, 1)
        a.commit()
        assert slots.try_take(c, run_id, 2) == 1
        b.close()  # a process that dies: its session ends and frees its slot
        deadline = time.monotonic() + 10
        while (got := slots.try_take(a, run_id, 2)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert got == 0
    finally:
        for conn in conns:
            conn.close()


def test_the_standin_counts_the_queries_in_flight_at_once(fakesnow_server: Any) -> None:
    if not isinstance(fakesnow_server, StandinServer):
        pytest.fail("this test needs the stand-in (unset SNOWPG_TEST_SNOWFLAKE)")
    standin = fakesnow_server
    standin.control(reset=True, execution_s=0.5, in_flight_pattern=r"^select 1\d")
    standin.control(reset_max_in_flight=True)
    try:
        conns = [standin.connect() for _ in range(4)]

        def query(conn: Any, n: int) -> None:
            conn.cursor().execute(f"select {n}")

        threads = [threading.Thread(target=query, args=(c, 10 + i)) for i, c in enumerate(conns)]
        threads.append(threading.Thread(target=query, args=(conns[0], 2)))  # not counted
        for t in threads[:4]:
            t.start()
        for t in threads[:4]:
            t.join()
        threads[4].start()
        threads[4].join()
        stats = standin.stats()
        assert stats["max_in_flight"] == 4 and stats["in_flight"] == 0, stats
        for conn in conns:
            conn.close()
    finally:
        standin.control(reset=True)


def _copied_by(log: Path) -> int:
    m = re.search(r"copied by this\s+process:\s+([\d,]+)", log.read_text())
    assert m, log.read_text()
    return int(m.group(1).replace(",", ""))


def test_two_processes_of_one_run_never_have_more_chunk_queries_in_flight_than_the_cap(
    fakesnow_server: Any,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    if not isinstance(fakesnow_server, StandinServer):
        pytest.fail("this test needs the stand-in (unset SNOWPG_TEST_SNOWFLAKE)")
    standin = fakesnow_server
    rows, cap = 20_000, 3
    create_mixed_table(sf_conn, "ORDERS", rows)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(NO_PK_TARGET)  # a chunk copied twice would show as duplicate ids
    cfg = write_config(
        tmp_path / "c.json",
        make_config(
            sf_database,
            pg_database,
            [{"source": "ORDERS"}],
            batch_size=500,
            parallel_threads=4,
            max_snowflake_queries=cap,
        ),
    )
    # Each chunk query held 0.4 s: 40 chunks, 8 threads wanting a query at once.
    standin.control(reset=True, execution_s=0.4, in_flight_pattern=CHUNK_QUERY)
    standin.control(reset_max_in_flight=True)
    try:
        logs = [tmp_path / f"p{i}.log" for i in range(2)]
        procs = [
            spawn_cli("migrate", "--config", str(cfg), env=server_env, log=log) for log in logs
        ]
        codes = [wait_or_kill(p, log, 240) for p, log in zip(procs, logs, strict=True)]
        stats = standin.stats()
    finally:
        standin.control(reset=True)
    assert codes == [0, 0], [log.read_text() for log in logs]
    assert stats["max_in_flight"] == cap, stats  # reached, never passed
    assert count_rows(pg_dsn, "public", "orders") == (rows, rows)
    with psycopg.connect(pg_dsn) as conn:
        chunks = conn.execute(
            "SELECT count(*), sum(rows_copied), count(*) FILTER (WHERE status <> 'completed')"
            " FROM migration_status.migration_chunk_status"
        ).fetchone()
    assert chunks == (40, rows, 0)
    by_process = [_copied_by(log) for log in logs]
    assert sum(by_process) == rows and min(by_process) > 0, by_process  # both copied chunks


def _worker(pg_server: Any, pg_database: str, stop: threading.Event) -> WorkerConnections:
    settings = Settings.model_validate(
        {
            "snowflake": {"account": "unused", "user": "u", "password": "p"},
            "postgres": {
                "host": pg_server.host,
                "port": pg_server.port,
                "user": pg_server.user,
                "password": pg_server.password or None,
            },
            "sources": [
                {
                    "source_name": "s",
                    "source_sf_database": "D",
                    "source_sf_schema": "S",
                    "target_pg_database": pg_database,
                    "target_pg_schema": "public",
                    "tables": [{"source": "T"}],
                }
            ],
        }
    )
    ctx = WorkerContext(
        settings=settings,
        run_id=uuid.uuid4(),
        target_database=pg_database,
        source_database="D",
        source_schema="S",
        jobs={},
        table_limits={},
        deadline=None,
        stop=stop,
        progress=ProgressSink(),
        on_table_chunk_done=lambda _conn, _key: None,
        query_slots=1,
    )
    return WorkerConnections(ctx)


def test_waiting_for_a_slot_holds_no_transaction_and_ends_at_the_deadline_or_on_stop(
    pg_server: Any, pg_database: str, pg_dsn: str
) -> None:
    stop = threading.Event()
    worker = _worker(pg_server, pg_database, stop)
    with psycopg.connect(pg_dsn) as holder, psycopg.connect(pg_dsn, autocommit=True) as watcher:
        assert slots.try_take(holder, worker.ctx.run_id, 1) == 0  # the run's only slot
        started = time.monotonic()
        assert not worker._take_query_slot(started + 0.6)  # the deadline passes first
        assert 0.5 <= time.monotonic() - started < 3

        result: list[bool] = []
        waiter = threading.Thread(target=lambda: result.append(worker._take_query_slot(None)))
        waiter.start()
        states = set()
        for _ in range(10):
            row = watcher.execute(
                "SELECT state FROM pg_stat_activity WHERE pid = %s",
                (worker.pg().info.backend_pid,),
            ).fetchone()
            states.add(row[0] if row else None)
            time.sleep(0.05)
        assert "idle in transaction" not in states and "idle" in states, states
        stopped = time.monotonic()
        stop.set()  # Ctrl-C
        waiter.join(5)
        assert result == [False] and time.monotonic() - stopped < 1

        stop.clear()
        slots.give_back(holder, worker.ctx.run_id, 0)
        holder.commit()
        assert worker._take_query_slot(time.monotonic() + 5)
        assert _advisory_locks(watcher, worker.pg().info.backend_pid) == 1
        worker._free_query_slot()
        assert _advisory_locks(watcher, worker.pg().info.backend_pid) == 0
    worker.close()

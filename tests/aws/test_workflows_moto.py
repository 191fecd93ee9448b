"""The shipped state machines, executed by moto, with the handler in-process on real servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from snowpg.aws import state_machine
from snowpg.aws.handler import lambda_handler
from tests.aws.harness import (
    Recorder,
    aws_with_handler,
    create_function,
    create_state_machine,
    entered_states,
    run_execution,
)
from tests.aws.migration_setup import assert_target_equals_source, chunk_claims, setup_orders

pytestmark = pytest.mark.integration


def test_standard_workflow_loops_until_the_source_is_copied(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = 5000
    cfg = setup_orders(
        sf_conn, sf_database, pg_database, pg_dsn, tmp_path,
        rows=rows, batch_size=500, chunk_seconds=0.5,
        parallel_threads=1, lambda_timeout_buffer_seconds=1,
    )  # fmt: skip
    monkeypatch.setenv("SNOWPG_CONFIG", str(cfg))
    # Each invocation has 3 s, 1 s of which is the buffer: at most 4 chunks of >= 0.5 s each,
    # so the 10 chunks take at least three invocations. (With 2 s, a loaded machine could spend
    # the first second before the budget is planned, and the first call refused to start.)
    recorder = Recorder(budget_seconds=3.0)
    with aws_with_handler(monkeypatch, recorder):
        arn = create_function()
        sm = create_state_machine(
            "snowpg-src",
            state_machine.render("standard", function_arn=arn, source_name="src"),
        )
        desc, events = run_execution(sm, {})

    assert desc["status"] == "SUCCEEDED", desc
    states = entered_states(events)
    assert states[:5] == [
        "ValidateConfig", "IsConfigValid", "StopAfterValidate", "TestConnections",
        "AreConnectionsOk",
    ]  # fmt: skip
    migrations = recorder.answers("migrate")
    assert states.count("ExecuteMigration") == len(migrations) >= 3
    assert states.count("Continue") == len(migrations) - 1
    assert [a["body"]["status"] for a in migrations] == ["partial"] * (len(migrations) - 1) + [
        "completed"
    ]
    run_ids = {a["body"]["run_id"] for a in migrations}
    assert len(run_ids) == 1  # every iteration continued the same run
    assert sum(a["body"]["rows_this_invocation"] for a in migrations) == rows
    assert all(a["body"]["sources"][0]["budget"]["margin_seconds"] >= 1 for a in migrations)
    assert_target_equals_source(sf_conn, pg_dsn, rows)
    claims = chunk_claims(pg_dsn)
    assert len(claims) == 10 and {c[1] for c in claims} == {"completed"}
    assert sum(c[2] for c in claims) == rows
    # The verify action compares both sides chunk by chunk.
    verified = lambda_handler({"action": "verify", "source_name": "src"}, None)
    assert verified["statusCode"] == 200, verified
    assert verified["body"]["status"] == "completed" and verified["body"]["run_id"] in run_ids
    assert verified["body"]["sources"][0]["differences"] == 0


def test_fanout_workflow_three_workers_copy_each_chunk_once(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = 9000
    cfg = setup_orders(
        sf_conn, sf_database, pg_database, pg_dsn, tmp_path,
        rows=rows, batch_size=300, chunk_seconds=0.1,
        parallel_threads=1, lambda_timeout_buffer_seconds=1,
    )  # fmt: skip
    monkeypatch.setenv("SNOWPG_CONFIG", str(cfg))
    # 3 s a call (1 s buffer): 2 s of claiming is less than the 30 chunks' 3 s, so at least two
    # workers copy, and a loaded machine's slow start cannot use up the whole budget.
    recorder = Recorder(budget_seconds=3.0)
    with aws_with_handler(monkeypatch, recorder):
        arn = create_function()
        sm = create_state_machine(
            "snowpg-src-fanout",
            state_machine.render("fanout", function_arn=arn, source_name="src", workers=3),
        )
        desc, events = run_execution(sm, {})

    assert desc["status"] == "SUCCEEDED", desc
    states = entered_states(events)
    assert states.count("PrepareRun") == 1 and states.count("Workers") == 1
    prepared = recorder.answers("prepare")[0]["body"]
    assert prepared["status"] == "partial" and prepared["rows_this_invocation"] == 0
    work = [i for i in recorder.invocations if i.event.get("action") == "migrate"]
    assert {i.event["worker"] for i in work} == {1, 2, 3}
    assert all(i.answer is not None for i in work)
    assert {i.event["run_id"] for i in work} == {prepared["run_id"]}
    copied: dict[int, int] = {}
    for i in work:
        assert i.answer is not None
        copied[i.event["worker"]] = (
            copied.get(i.event["worker"], 0) + i.answer["body"]["rows_this_invocation"]
        )
    assert sum(copied.values()) == rows
    assert sum(1 for v in copied.values() if v > 0) >= 2, copied  # the work was really shared
    claims = chunk_claims(pg_dsn)
    assert len(claims) == 30 and {c[1] for c in claims} == {"completed"}
    # Claimed exactly once each: no chunk was ever handed to a second worker.
    assert {c[3] for c in claims} == {1}
    assert sum(c[2] for c in claims) == rows
    assert_target_equals_source(sf_conn, pg_dsn, rows)
    summary = recorder.answers("status")[-1]["body"]
    assert summary["status"] == "completed" and summary["run_id"] == prepared["run_id"]


KILLABLE_HANDLER = """
import json, sys
from snowpg.aws.handler import lambda_handler

class Context:
    aws_request_id = "to-be-killed"
    def get_remaining_time_in_millis(self):
        return 900_000

print(json.dumps(lambda_handler(json.loads(sys.argv[1]), Context())))
"""


def _copy_in_flight(dsn: str) -> list[int]:
    """Chunks whose COPY is running right now (the target's slow trigger is sleeping)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        sleeping = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()"
        ).fetchall()
        if not sleeping:
            return []
        rows = conn.execute(
            "SELECT chunk_id FROM migration_status.migration_chunk_status "
            "WHERE status = 'in_progress' AND lease_backend_pid = ANY(%s)",
            ([p[0] for p in sleeping],),
        ).fetchall()
    return [r[0] for r in rows]


def test_lambda_killed_mid_chunk_loses_and_duplicates_nothing(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = 4000
    cfg = setup_orders(
        sf_conn, sf_database, pg_database, pg_dsn, tmp_path,
        rows=rows, batch_size=500, chunk_seconds=0.4, parallel_threads=1,
    )  # fmt: skip
    monkeypatch.setenv("SNOWPG_CONFIG", str(cfg))
    killed: dict[str, Any] = {}

    def kill_first_migration(event: dict[str, Any], index: int) -> dict[str, Any] | None:
        if event.get("action") != "migrate" or killed:
            return None
        # The first ExecuteMigration runs as a real process, which is killed like Lambda kills a
        # function at its timeout: no exception, no cleanup, mid-COPY.
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLABLE_HANDLER, json.dumps(event)],
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            busy = _copy_in_flight(pg_dsn)
            if busy and chunk_rows_done(pg_dsn) >= 1:
                proc.send_signal(signal.SIGKILL)
                killed["chunks"] = busy
                break
            time.sleep(0.05)
        proc.wait(30)
        assert killed, "the handler finished before it could be killed mid-chunk"
        # Under load a chunk seen in flight may still commit before SIGKILL lands; only the
        # chunks left uncommitted by the dead process must be claimed a second time.
        done = {c[0] for c in chunk_claims(pg_dsn) if c[1] == "completed"}
        killed["chunks"] = [c for c in killed["chunks"] if c not in done]
        assert killed["chunks"], "every chunk in flight committed before the kill landed"
        return {
            "errorType": "Sandbox.Timedout",
            "errorMessage": "Task timed out after 900.00 seconds",
        }

    recorder = Recorder(budget_seconds=900.0, override=kill_first_migration)
    with aws_with_handler(monkeypatch, recorder):
        arn = create_function()
        sm = create_state_machine(
            "snowpg-src", state_machine.render("standard", function_arn=arn, source_name="src")
        )
        desc, events = run_execution(sm, {})

    assert desc["status"] == "SUCCEEDED", desc
    failures = [
        e["taskFailedEventDetails"]["error"] for e in events if "taskFailedEventDetails" in e
    ]
    assert failures == ["Sandbox.Timedout"]
    states = entered_states(events)
    assert states.count("CountTimeout") == 1 and states.count("ExecuteMigration") == 2
    assert recorder.answers("migrate")[-1]["body"]["status"] == "completed"
    claims = {c[0]: c for c in chunk_claims(pg_dsn)}
    assert {c[1] for c in claims.values()} == {"completed"}
    assert sum(c[2] for c in claims.values()) == rows
    for chunk_id in killed["chunks"]:
        assert claims[chunk_id][3] == 2  # claimed by the killed process, then once more
    assert_target_equals_source(sf_conn, pg_dsn, rows)


def chunk_rows_done(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM migration_status.migration_chunk_status WHERE status = 'completed'"
        ).fetchone()
    return int(row[0]) if row else 0

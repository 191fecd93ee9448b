"""The Lambda actions on a database whose migration_status the existing tool's schema file made:
status and record_failure before snowpg ran (read only), migrate (partial), record_failure,
migrate resuming the failed run, status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from snowpg.aws.handler import lambda_handler
from tests.aws.harness import FakeContext
from tests.aws.migration_setup import assert_target_equals_source, setup_orders
from tests.fixtures import existing_status as existing

pytestmark = pytest.mark.integration


def _run(pg_dsn: str, run_id: str) -> tuple[Any, ...] | None:
    with psycopg.connect(pg_dsn) as conn:
        return conn.execute(
            "SELECT status, error_message FROM migration_status.migration_runs WHERE run_id = %s",
            (run_id,),
        ).fetchone()


def test_lambda_actions_on_their_schema(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    existing.apply_ddl(pg_dsn)
    existing.add_their_run(pg_dsn)
    before = existing.snapshot(pg_dsn)
    rows = 3000
    cfg = setup_orders(
        sf_conn, sf_database, pg_database, pg_dsn, tmp_path,
        rows=rows, batch_size=500, chunk_seconds=0.4,
        parallel_threads=1, lambda_timeout_buffer_seconds=1,
    )  # fmt: skip
    monkeypatch.setenv("SNOWPG_CONFIG", str(cfg))
    migrate = {"action": "migrate", "source_name": "src"}

    # Before any snowpg run: status answers "no run" and reads only.
    empty = lambda_handler({"action": "status", "source_name": "src"}, None)
    assert empty["statusCode"] == 200, empty
    assert empty["body"]["run_id"] is None
    theirs = {
        "action": "record_failure", "source_name": "src", "run_id": existing.THEIR_RUN,
        "execution": "old", "failure": {"error": {"Error": "States.Timeout", "Cause": "x"}},
    }  # fmt: skip
    untouched = lambda_handler(theirs, None)
    assert untouched["statusCode"] == 200 and untouched["body"]["recorded"] is False, untouched
    assert existing.snapshot(pg_dsn) == before

    # 2.5 s with a 1 s buffer cannot copy six chunks of >= 0.4 s: the first call is partial.
    first = lambda_handler(migrate, FakeContext(2.5))
    assert first["statusCode"] == 200, first
    assert first["body"]["status"] == "partial"
    run_id = first["body"]["run_id"]
    assert _run(pg_dsn, run_id) == ("partial", None)

    # The execution failed elsewhere: its run is marked failed (allowed by their CHECK).
    failure = {
        "action": "record_failure", "source_name": "src", "run_id": run_id,
        "execution": "nightly", "failure": {"error": {"Error": "States.Timeout", "Cause": "x"}},
    }  # fmt: skip
    recorded = lambda_handler(failure, None)
    assert recorded["statusCode"] == 200 and recorded["body"]["recorded"] is True, recorded
    assert _run(pg_dsn, run_id)[0] == "failed"  # type: ignore[index]

    # The next executions resume that run until it is complete.
    bodies = []
    for _ in range(10):
        answer = lambda_handler(migrate, FakeContext(6.0))
        assert answer["statusCode"] == 200, answer
        bodies.append(answer["body"])
        if answer["body"]["status"] == "completed":
            break
    assert bodies[-1]["status"] == "completed"
    assert {b["run_id"] for b in bodies} == {run_id}
    assert_target_equals_source(sf_conn, pg_dsn, rows)
    existing.assert_statuses_allowed(pg_dsn)

    status = lambda_handler({"action": "status", "source_name": "src"}, None)
    assert status["statusCode"] == 200, status
    body = status["body"]
    assert body["status"] == "completed" and body["run_id"] == run_id
    [report] = body["runs"]
    assert report["rows_copied"] == rows
    assert [(t["source_table"], t["status"]) for t in report["tables"]] == [("ORDERS", "completed")]

    after = existing.snapshot(pg_dsn)
    assert after["their_run"] == before["their_run"]
    assert after["views"] == before["views"] and after["constraints"] == before["constraints"]

    # On the upgraded schema too, a run of the existing tool (here one it left running) is
    # never marked by snowpg.
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "UPDATE migration_status.migration_runs SET status = 'running', completed_at = NULL"
            " WHERE run_id = %s",
            (existing.THEIR_RUN,),
        )
    left = lambda_handler(theirs, None)
    assert left["statusCode"] == 200 and left["body"]["recorded"] is False, left
    assert _run(pg_dsn, existing.THEIR_RUN) == ("running", None)

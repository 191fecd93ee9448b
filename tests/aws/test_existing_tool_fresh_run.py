"""Config changed mid-run under the existing tool's state machine (issue 12, item 8).

The default is a refusal (400, the execution fails); an execution whose input carries
``no_resume`` starts one fresh run on its first call and resumes it on every later iteration,
although the workflow sends the same ``no_resume`` each time. A second execution with the same
input starts another fresh run, as the existing tool did.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.aws.harness import (
    Recorder,
    aws_with_handler,
    create_function,
    create_state_machine,
    entered_states,
    run_execution,
)
from tests.aws.migration_setup import assert_target_equals_source, setup_orders
from tests.fixtures.migration import count_rows, make_config, run_cli, write_config

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parent / "fixtures" / "existing_tool_state_machine.json"
ROWS = 5000
SETTINGS: dict[str, Any] = {
    "batch_size": 500,
    "parallel_threads": 1,
    "lambda_timeout_buffer_seconds": 1,
}


def _runs(dsn: str) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT run_id::text, status, error_message, metadata"
            " FROM migration_status.migration_runs ORDER BY started_at"
        ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def _migrate_answers(recorder: Recorder, since: int) -> list[dict[str, Any]]:
    calls = [i for i in recorder.invocations[since:] if i.event.get("action") == "migrate"]
    assert all(i.answer is not None for i in calls), [i.error for i in calls]
    return [i.answer for i in calls if i.answer is not None]


def test_changed_config_is_refused_then_no_resume_starts_one_fresh_run_the_loop_resumes(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    cfg = setup_orders(
        sf_conn, sf_database, pg_database, pg_dsn, tmp_path, rows=ROWS, chunk_seconds=0.3,
        **SETTINGS,
    )  # fmt: skip
    # An unfinished run under the first configuration, with some rows already in the target.
    # A loaded machine may spend the first second planning: call again (it resumes) until some
    # chunks are in; each call copies at most about a third of the 10 chunks.
    for _ in range(3):
        first = run_cli("migrate", "--config", str(cfg), "--max-seconds", "1", env=server_env)
        assert first.returncode == 3, first.stdout + first.stderr
        if count_rows(pg_dsn, "public", "orders")[0] > 0:
            break
    [(old_run, _, _, _)] = _runs(pg_dsn)
    assert 0 < count_rows(pg_dsn, "public", "orders")[0] < ROWS
    # The configuration changes what is copied: the old run cannot be resumed.
    changed = make_config(
        sf_database, pg_database, [{"source": "ORDERS", "truncate_onstart": True}], **SETTINGS
    )
    write_config(cfg, changed)
    monkeypatch.setenv("SNOWPG_CONFIG", str(cfg))

    recorder = Recorder(budget_seconds=3.0)
    monkeypatch.setattr(
        wait_function.WaitFunction,
        "_wait_interval",
        lambda self, env, wait_seconds: recorder.sleeps.append(wait_seconds),
    )
    with aws_with_handler(monkeypatch, recorder):
        arn = create_function()
        sm = create_state_machine(
            "existing-tool", json.loads(FIXTURE.read_text().replace("${FunctionArn}", arn))
        )

        # 1. Default: refused with 400, naming the change and how to start afresh.
        refused, _ = run_execution(sm, {"source_name": "src"})
        assert refused["status"] == "FAILED"
        [answer] = _migrate_answers(recorder, 0)
        assert answer["statusCode"] == 400 and answer["body"]["error"] == "RunRefused"
        message = answer["body"]["message"]
        assert "different configuration" in message and old_run in message
        assert '"no_resume": true' in message and "new execution" in message
        assert [r[1] for r in _runs(pg_dsn)] == ["partial"]  # untouched

        # 2. no_resume in the input: one fresh run, which the loop resumes until it completes.
        since = len(recorder.invocations)
        desc, events = run_execution(sm, {"source_name": "src", "no_resume": True})
        assert desc["status"] == "SUCCEEDED", desc
        states = entered_states(events)
        assert "ResumeMigration" in states and states[-1] == "MigrationSucceeded"
        answers = _migrate_answers(recorder, since)
        bodies = [a["body"] for a in answers]
        assert len(bodies) >= 2
        assert [b["status"] for b in bodies] == ["partial"] * (len(bodies) - 1) + ["completed"]
        assert [b["sources"][0]["resumed"] for b in bodies] == [False] + [True] * (len(bodies) - 1)
        assert len({b["run_id"] for b in bodies}) == 1
        later = [
            i.event for i in recorder.invocations[since:] if i.event.get("action") == "migrate"
        ]
        assert all(e["input"]["no_resume"] is True for e in later)  # sent on every iteration
        runs = _runs(pg_dsn)
        assert len(runs) == 2
        (_, old_status, old_error, _), (fresh_run, status, _, metadata) = runs
        assert old_status == "failed" and old_error and old_error.startswith("abandoned:")
        assert (fresh_run, status) == (bodies[0]["run_id"], "completed")
        assert len(metadata["fresh_request"]) == 64
        assert_target_equals_source(sf_conn, pg_dsn, ROWS)

        # 3. A new execution with the same input is a new request: another fresh run.
        since = len(recorder.invocations)
        again, _ = run_execution(sm, {"source_name": "src", "no_resume": True})
        assert again["status"] == "SUCCEEDED", again
        bodies = [a["body"] for a in _migrate_answers(recorder, since)]
        assert bodies[0]["sources"][0]["resumed"] is False and bodies[-1]["status"] == "completed"
        assert len({b["run_id"] for b in bodies}) == 1
        runs = _runs(pg_dsn)
        assert len(runs) == 3 and runs[2][0] == bodies[0]["run_id"] != fresh_run
        assert [r[1] for r in runs[1:]] == ["completed", "completed"]
        assert runs[2][3]["fresh_request"] == metadata["fresh_request"]
        assert_target_equals_source(sf_conn, pg_dsn, ROWS)

"""The existing tool's state machine shape, executed by moto against the real handler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parent / "fixtures" / "existing_tool_state_machine.json"


def test_existing_tool_workflow_loops_partial_resume_until_succeeded(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    rows = 5000
    cfg = setup_orders(
        sf_conn, sf_database, pg_database, pg_dsn, tmp_path,
        rows=rows, batch_size=500, chunk_seconds=0.3,
        parallel_threads=1, lambda_timeout_buffer_seconds=1,
    )  # fmt: skip
    monkeypatch.setenv("SNOWPG_CONFIG", str(cfg))
    recorder = Recorder(budget_seconds=3.0)
    # The Wait state's 5 s are recorded, not slept.
    monkeypatch.setattr(
        wait_function.WaitFunction,
        "_wait_interval",
        lambda self, env, wait_seconds: recorder.sleeps.append(wait_seconds),
    )
    with aws_with_handler(monkeypatch, recorder):
        arn = create_function()
        text = FIXTURE.read_text().replace("${FunctionArn}", arn)
        sm = create_state_machine("existing-tool", json.loads(text))
        desc, events = run_execution(sm, {"source_name": "src"})

    assert desc["status"] == "SUCCEEDED", desc
    states = entered_states(events)
    assert states[:5] == [
        "InitializeDefaults", "ValidateConfig", "TestConnections", "ExecuteMigration",
        "CheckMigrationStatus",
    ]  # fmt: skip
    assert "ResumeMigration" in states and states[-1] == "MigrationSucceeded"
    assert 5 in recorder.sleeps
    # The migrate calls got the whole state (results of earlier states included) and accepted it.
    migrations = [i for i in recorder.invocations if i.event.get("action") == "migrate"]
    assert len(migrations) >= 2
    assert {"validateResult", "connectionResult", "defaults"} <= set(migrations[0].event)
    assert "migrationResult" in migrations[1].event
    bodies = [i.answer["body"] for i in migrations if i.answer]
    assert [b["status"] for b in bodies] == ["partial"] * (len(bodies) - 1) + ["completed"]
    assert len({b["run_id"] for b in bodies}) == 1
    connections = [i for i in recorder.invocations if i.event.get("action") == "test_connections"]
    assert connections[0].event == {"action": "test_connections"}
    assert connections[0].answer and connections[0].answer["statusCode"] == 200
    if len(bodies) > 2:
        counts = [i.event["defaults"]["resume_attempt_count"] for i in migrations[1:]]
        assert counts == list(range(len(counts)))
    assert_target_equals_source(sf_conn, pg_dsn, rows)

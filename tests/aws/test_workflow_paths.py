"""State machine paths that need no database: early stop, retry of transient errors, failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from snowpg.aws import state_machine
from tests.aws.harness import (
    Recorder,
    aws_with_handler,
    create_function,
    create_state_machine,
    entered_states,
    run_execution,
)
from tests.aws.test_handler import CONFIG


@pytest.fixture
def config_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(CONFIG))
    for k, v in {
        "SNOWPG_CONFIG": str(cfg),
        "SNOWFLAKE_ACCOUNT": "xy12345",
        "SNOWFLAKE_USER": "MIGRATION",
        "SNOWFLAKE_PASSWORD": "sf-Secret-0815",
        "POSTGRES_HOST": "db.example.com",
        "POSTGRES_USER": "migration",
    }.items():
        monkeypatch.setenv(k, v)


def _run(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder, payload: dict[str, Any], variant: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with aws_with_handler(monkeypatch, recorder):
        arn = create_function()
        sm = create_state_machine(
            f"snowpg-analytics-{variant}",
            state_machine.render(variant, function_arn=arn, source_name="analytics"),  # type: ignore[arg-type]
        )
        return run_execution(sm, payload)


@pytest.mark.parametrize("variant", state_machine.VARIANTS)
def test_validate_only_execution_retries_a_transient_error_then_stops(
    config_env: None, monkeypatch: pytest.MonkeyPatch, variant: str
) -> None:
    def flaky(event: dict[str, Any], index: int) -> dict[str, Any] | None:
        if index == 0:
            return {"errorType": "TargetUnavailable", "errorMessage": "connection reset"}
        return None

    recorder = Recorder(override=flaky)
    desc, events = _run(monkeypatch, recorder, {"action": "validate_config"}, variant)
    assert desc["status"] == "SUCCEEDED", desc
    assert recorder.actions() == ["validate_config", "validate_config"]  # retried once
    assert len(recorder.sleeps) == 1 and 0 <= recorder.sleeps[0] <= 10  # full jitter on 10 s
    assert entered_states(events)[-1] == "Done"
    assert json.loads(desc["output"])["validation"]["body"]["status"] == "completed"


def test_bad_input_ends_in_record_failure_and_fail(
    config_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    desc, events = _run(monkeypatch, recorder, {"source_name": "sales"}, "standard")
    assert desc["status"] == "FAILED"
    assert recorder.actions() == ["validate_config", "record_failure"]
    states = entered_states(events)
    assert states == ["ValidateConfig", "IsConfigValid", "RecordFailure", "Failed"]
    recorded = recorder.answers("record_failure")[0]["body"]
    assert recorded["recorded"] is False  # no run was started, so nothing to mark
    assert "this state machine migrates source 'analytics'" in recorded["message"]
    failed = next(e for e in events if e["type"] == "ExecutionFailed")
    assert failed["executionFailedEventDetails"]["error"] == "MigrationFailed"


def test_terminal_lambda_error_is_caught_and_recorded(
    config_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(event: dict[str, Any], index: int) -> dict[str, Any] | None:
        if event["action"] == "test_connections":
            return {"errorType": "Runtime.OutOfMemory", "errorMessage": "Runtime exited"}
        return None

    recorder = Recorder(override=broken)
    desc, _events = _run(monkeypatch, recorder, {}, "standard")
    assert desc["status"] == "FAILED"
    assert recorder.actions() == ["validate_config", "test_connections", "record_failure"]
    failure = recorder.invocations[-1].event["failure"]
    assert failure["error"]["Error"] == "Runtime.OutOfMemory"
    assert recorder.answers("record_failure")[0]["body"]["message"].endswith(
        "failed: Runtime.OutOfMemory: Runtime exited"
    )

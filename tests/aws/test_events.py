"""Event parsing (every fixture in tests/aws/events/), the claim budget, and failure messages."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from snowpg.aws import actions, failures, timing
from snowpg.aws.events import Request, parse_event
from snowpg.errors import ConfigError

EVENTS = Path(__file__).parent / "events"
RUN = uuid.UUID("7b4e1c2a-9f0d-4c55-8d7e-3a1b2c3d4e5f")

EXPECTED: dict[str, dict[str, Any]] = {
    "validate_config.json": {"action": "validate_config", "source_names": None},
    "test_connections.json": {"action": "test_connections", "source_names": ("analytics",)},
    "migrate_small_table.json": {"tables_filter": ("SMALL_TABLE_NAME",)},
    "migrate_several_sources.json": {
        "action": "migrate", "source_names": ("analytics", "sales"), "resume_max_age_hours": 24.0,
    },
    "resume_run.json": {"resume_run_id": RUN, "source_names": ("analytics",)},
    "step_functions_migrate.json": {
        "tables_filter": ("ORDERS", "CUSTOMERS"), "no_resume": True, "resume_max_age_hours": 12.0,
        "run_id": None, "requested_action": "migrate",
    },
    "step_functions_loop.json": {"run_id": RUN, "worker": 2, "no_resume": True},
    "record_failure.json": {"action": "record_failure", "execution": "nightly-2026-11-24"},
}  # fmt: skip


def _load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


def test_every_event_fixture_is_covered() -> None:
    assert sorted(p.name for p in EVENTS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_fixtures_parse(name: str) -> None:
    request = parse_event(_load(name))
    for field, value in EXPECTED[name].items():
        assert getattr(request, field) == value, field


@pytest.mark.parametrize(
    ("event", "field", "words"),
    [
        ([1, 2], "event", "JSON object"),
        ({"action": "copy"}, "action", "unknown action 'copy'"),
        ({"tables_filer": ["A"]}, "tables_filer", "unknown event field"),
        ({"no_resume": "yes"}, "no_resume", "true or false"),
        ({"resume_run_id": "run-7"}, "resume_run_id", "not a run id"),
        ({"resume_max_age": -2}, "resume_max_age", "positive number of hours"),
        ({"source_name": 7}, "source_name", "a name, a comma-separated string"),
        (
            {"source_name": "a", "no_resume": True, "resume_run_id": str(RUN)},
            "no_resume",
            "contradict",
        ),
        ({"run_id": str(RUN)}, "source_name", "exactly one source_name"),
        (
            {"source_name": "a", "input": {"source_name": "b"}},
            "source_name",
            "this state machine migrates",
        ),
        ({"input": "x"}, "input", "must be a JSON object"),
    ],
)
def test_bad_events_name_the_field(event: Any, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_event(event)
    assert info.value.field == field and words in str(info.value)
    assert "\n" not in str(info.value)


def test_absent_event_means_migrate_every_enabled_source() -> None:
    assert parse_event(None) == Request()
    assert parse_event({}).action == "migrate"


def test_top_level_beats_input_beats_defaults_and_null_is_not_given() -> None:
    r = parse_event(
        {
            "action": "test_connections",
            "input": {"action": "validate_config", "tables_filter": "A"},
            "defaults": {"tables_filter": "B", "resume_max_age": 3},
            "tables_filter": None,
        }
    )
    assert r.action == "test_connections" and r.requested_action == "validate_config"
    assert r.tables_filter == ("A",) and r.resume_max_age_hours == 3.0


@pytest.mark.parametrize(
    ("remaining", "buffer", "longest", "margin", "learned"),
    [
        (900_000, 90, None, 90.0, False),  # nothing observed yet: the configured buffer
        (900_000, 90, 30.0, 90.0, False),  # 2 x 30 s < 90 s
        (900_000, 90, 120.0, 240.0, True),  # 2 x 120 s > 90 s: learned
        (900_000, 90, 600.0, 450.0, True),  # capped at half the invocation
        (2_000, 1, None, 1.0, False),
    ],
)
def test_claim_margin(
    remaining: int, buffer: int, longest: float | None, margin: float, learned: bool
) -> None:
    budget = timing.plan_budget(remaining, buffer, longest, now=1000.0)
    assert (budget.margin_seconds, budget.learned) == (margin, learned)
    assert budget.deadline == pytest.approx(1000.0 + remaining / 1000 - margin)


def test_no_time_after_the_buffer_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        timing.plan_budget(60_000, 90, None, now=0.0)
    assert info.value.field == "lambda_timeout_buffer_seconds"


def test_failure_message_and_run_id_from_a_state_machine_state() -> None:
    event = _load("record_failure.json")
    state = event["failure"]
    assert failures.find_run_id(state) == RUN
    text = failures.failure_message(state, event["execution"])
    assert text == (
        "Step Functions execution nightly-2026-11-24 failed: TargetError: "
        "permission denied for table orders"
    )
    failed_step = {"migration": {"statusCode": 500, "body": {"status": "failed", "message": "x"}}}
    assert failures.failure_message(failed_step, None).endswith("failed at migration: x")
    assert failures.find_run_id({"prepare": {"body": {"run_id": str(RUN)}}}) == RUN
    assert failures.find_run_id({"loop": {"run_id": None}}) is None


def test_answer_status_follows_the_exit_code() -> None:
    assert [actions.answer_status(c) for c in (0, 1, 3)] == ["completed", "failed", "partial"]


def _existing_tool_state(**extra: Any) -> dict[str, Any]:
    """The whole execution state the existing tool's ExecuteMigration task sends (no Parameters)."""
    state: dict[str, Any] = {
        "action": "migrate",
        "input": {"source_name": "analytics", "tables_filter": ["ORDERS"]},
        "defaults": {"resume_attempt_count": 3},
        "validateResult": {"statusCode": 200, "body": {"status": "completed"}},
        "connectionResult": {"statusCode": 200, "body": {"status": "completed"}},
    }
    state.update(extra)
    return state


def test_step_functions_pass_through_state_is_ignored_and_logged_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG", logger="snowpg.aws.events")
    partial = {"statusCode": 200, "body": {"status": "partial", "run_id": str(RUN)}}
    event = _existing_tool_state(
        migrationResult=partial,
        error={"Error": "States.Timeout", "Cause": "timed out"},
        resumeResult=partial,
    )
    request = parse_event(event)
    assert request.action == "migrate" and request.source_names == ("analytics",)
    assert request.tables_filter == ("ORDERS",) and request.run_id is None
    logged = " ".join(r.getMessage() for r in caplog.records if r.levelname == "DEBUG")
    for name in ("validateResult", "connectionResult", "migrationResult", "error",
                 "defaults.resume_attempt_count"):  # fmt: skip
        assert name in logged


@pytest.mark.parametrize(
    ("event", "field", "guess"),
    [
        (_existing_tool_state(input={"tables_filer": ["ORDERS"]}), "tables_filer", "tables_filter"),
        (_existing_tool_state(no_resum=True), "no_resum", "no_resume"),
        (
            {"action": "migrate", "defaults": {"resume_max_ag": 2}},
            "resume_max_ag",
            "resume_max_age",
        ),
    ],
)
def test_a_misspelled_field_is_still_refused_with_a_guess(
    event: dict[str, Any], field: str, guess: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_event(event)
    assert info.value.field == field
    assert f"did you mean {guess!r}?" in str(info.value)


def test_test_connections_with_no_input() -> None:
    request = parse_event({"action": "test_connections"})
    assert request.action == "test_connections" and request.source_names is None


def test_no_resume_carries_the_same_token_in_every_iteration_of_one_request() -> None:
    # Their workflow sends the same input each time; only later calls carry an earlier answer.
    fresh = {"source_name": "analytics", "tables_filter": ["ORDERS"], "no_resume": True}
    partial = {"statusCode": 200, "body": {"status": "partial", "run_id": str(RUN)}}
    first = parse_event(_existing_tool_state(input=fresh, defaults={"resume_attempt_count": 0}))
    later = parse_event(_existing_tool_state(input=fresh, migrationResult=partial))
    after_timeout = parse_event(
        _existing_tool_state(input=fresh, error={"Error": "States.Timeout"})
    )
    assert first.no_resume and later.no_resume and after_timeout.no_resume
    assert (first.continues, later.continues, after_timeout.continues) == (False, True, True)
    assert first.fresh_request is not None and len(first.fresh_request) == 64
    assert first.fresh_request == later.fresh_request == after_timeout.fresh_request
    # Another request (other tables) has another token; without no_resume there is none.
    other = parse_event(_existing_tool_state(input={**fresh, "tables_filter": ["ITEMS"]}))
    assert other.fresh_request not in (None, first.fresh_request)
    plain = parse_event(_existing_tool_state(migrationResult=partial))
    assert plain.fresh_request is None and plain.continues
    assert parse_event({"no_resume": True}).continues is False


def test_migrate_options_carry_the_fresh_request_token() -> None:
    partial = {"statusCode": 200, "body": {"status": "partial"}}
    request = parse_event(_existing_tool_state(input={"no_resume": True}, migrationResult=partial))
    options = actions._options(request, deadline=None, plan_deadline=None)
    assert options.no_resume and options.fresh_continues
    assert options.fresh_request == request.fresh_request

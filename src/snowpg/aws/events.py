"""Parse the events the Lambda handler accepts into one :class:`Request`; pure, no I/O.

An event gives its fields at the top level (``aws lambda invoke --payload '{...}'``) or nested the
way Step Functions passes them::

    {"action": "migrate", "input": {...execution input...}, "defaults": {"tables_filter": [...]}}

Precedence: top-level fields > ``input`` > ``defaults``; a ``null`` counts as not given, so a state
can pass ``"run_id.$": "$.loop.run_id"`` before a run exists. The shipped state machines pin their
source with a top-level ``source_name``; an ``input`` naming a different source is refused rather
than silently overridden. Every problem is a ConfigError
(HTTP 400 in the handler's answer) naming the field.

A Task state without ``Parameters`` sends Lambda the whole execution state, so the existing tool's
workflow also passes the results of earlier states (``validateResult``, ``connectionResult``,
``migrationResult``, any top-level ``...Result``, a Catch's ``error``) and its loop counter
``defaults.resume_attempt_count``. Those are accepted and ignored (logged at debug); any other
unknown field, top-level or inside ``input``/``defaults``, is refused with a "did you mean".

``no_resume`` is honoured once per request. Their workflow carries its ``input`` unchanged into
every loop iteration, so the request carries a fingerprint of its fields (``fresh_request``,
recorded in the fresh run's metadata) and says whether the event continues an earlier call
(``continues``: it carries an earlier ``migrationResult`` or a caught ``error``). A continuing call
resumes the newest run if that run was started fresh for the same fingerprint
(snowpg.run.lifecycle).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from snowpg.errors import ConfigError

log = logging.getLogger("snowpg.aws.events")

ACTIONS = (
    "validate_config",
    "test_connections",
    "migrate",
    "prepare",
    "status",
    "verify",
    "record_failure",
)
DEFAULT_ACTION = "migrate"

# Fields a request may carry; anything else is refused so a typo ("tables_filer") is not ignored.
FIELDS = (
    "action",
    "source_name",
    "tables_filter",
    "no_resume",
    "reverify",
    "resume_run_id",
    "resume_max_age",
    "run_id",
    "worker",
    "failure",
    "execution",
)
# Keys of the nesting itself, and keys a caller may add for its own bookkeeping.
_ENVELOPE = ("input", "defaults")
_IGNORED = ("comment", "Comment")
# State a Step Functions Task without Parameters passes through: earlier states' results at the
# top level (any key ending in "Result" counts too) and the existing tool's loop counter.
_PASS_THROUGH_TOP = ("validateResult", "connectionResult", "migrationResult", "error")
_PASS_THROUGH_DEFAULTS = ("resume_attempt_count",)
# Keys that only a later call of a workflow carries: the previous migrate answer, a caught error.
_CONTINUATION = ("migrationResult", "error")


@dataclass(frozen=True)
class Request:
    action: str = DEFAULT_ACTION
    source_names: tuple[str, ...] | None = None  # None: every enabled source
    tables_filter: tuple[str, ...] | None = None
    no_resume: bool = False
    reverify: bool = False  # verify: read every chunk again, also those verified since copied
    resume_run_id: uuid.UUID | None = None
    resume_max_age_hours: float | None = None
    run_id: uuid.UUID | None = None  # continue exactly this run (state machine loops, workers)
    worker: int | None = None
    failure: Mapping[str, Any] | None = None  # record_failure: the state machine's state
    execution: str | None = None
    # With no_resume: a fingerprint of the request's fields (the same in every loop iteration).
    fresh_request: str | None = None
    continues: bool = False  # the event carries an earlier call's answer or caught error
    # The action the caller asked for inside "input"/"defaults", which a state machine's own
    # top-level action overrides; its workflow stops early for validate_config/test_connections.
    requested_action: str = DEFAULT_ACTION

    @property
    def single_source(self) -> str | None:
        return self.source_names[0] if self.source_names and len(self.source_names) == 1 else None


def merge_event(event: Any) -> dict[str, Any]:
    """The event's fields after applying the nesting and precedence rules."""
    if event is None:
        return {}
    if not isinstance(event, Mapping):
        raise ConfigError(
            f"the event must be a JSON object, not {_json_type(event)}",
            hint='send e.g. {"action": "migrate", "source_name": "analytics"}',
            field="event",
        )
    _check_pinned_source(event)
    event = _drop_pass_through(event)
    merged: dict[str, Any] = {}
    for part in ("defaults", "input"):
        nested = event.get(part)
        if nested is None:
            continue
        if not isinstance(nested, Mapping):
            raise ConfigError(
                f"event field '{part}' must be a JSON object, not {_json_type(nested)}",
                field=part,
            )
        merged.update({k: v for k, v in nested.items() if v is not None})
    merged.update({k: v for k, v in event.items() if k not in _ENVELOPE and v is not None})
    return merged


def _drop_pass_through(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event without the execution-state fields Step Functions passes through."""
    kept = {k: v for k, v in event.items() if not _is_state_result(k)}
    defaults = kept.get("defaults")
    if isinstance(defaults, Mapping):
        kept["defaults"] = {k: v for k, v in defaults.items() if k not in _PASS_THROUGH_DEFAULTS}
    dropped = sorted(set(event) - set(kept))
    if isinstance(defaults, Mapping):
        dropped += [f"defaults.{k}" for k in _PASS_THROUGH_DEFAULTS if k in defaults]
    if dropped:
        log.debug("ignoring execution state passed through: %s", ", ".join(dropped))
    return kept


def _is_state_result(key: str) -> bool:
    return key in _PASS_THROUGH_TOP or (key.endswith("Result") and key != "Result")


def _check_pinned_source(event: Mapping[str, Any]) -> None:
    """A state machine pins its source at the top level; an input naming another is an error."""
    pinned = event.get("source_name")
    nested = event.get("input")
    if pinned is None or not isinstance(nested, Mapping) or nested.get("source_name") is None:
        return
    ours = _names(pinned, "source_name")
    theirs = _names(nested.get("source_name"), "source_name")
    if theirs is not None and ours is not None and set(theirs) != set(ours):
        raise ConfigError(
            f"this state machine migrates source {', '.join(ours)!r} but the execution input "
            f"names {', '.join(theirs)!r}",
            hint="start the state machine deployed for that source, or drop source_name from "
            "the input",
            field="source_name",
        )


def parse_event(event: Any) -> Request:
    """A validated :class:`Request` from a Lambda event (see the module docstring)."""
    fields = merge_event(event)
    unknown = sorted(k for k in fields if k not in FIELDS and k not in _IGNORED)
    if unknown:
        close = difflib.get_close_matches(unknown[0], FIELDS, n=1)
        guess = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"unknown event field(s) {', '.join(repr(k) for k in unknown)}; "
            f"{guess}known fields: {', '.join(FIELDS)}",
            field=unknown[0],
        )
    action = fields.get("action", DEFAULT_ACTION)
    if not isinstance(action, str) or action.strip().lower() not in ACTIONS:
        raise ConfigError(
            f"unknown action {action!r}; use one of {', '.join(ACTIONS)}", field="action"
        )
    requested = _requested_action(event) or action
    no_resume = _bool(fields.get("no_resume", False), "no_resume")
    request = Request(
        action=action.strip().lower(),
        requested_action=str(requested).strip().lower(),
        source_names=_names(fields.get("source_name"), "source_name"),
        tables_filter=_names(fields.get("tables_filter"), "tables_filter"),
        no_resume=no_resume,
        reverify=_bool(fields.get("reverify", False), "reverify"),
        resume_run_id=_uuid(fields.get("resume_run_id"), "resume_run_id"),
        resume_max_age_hours=_hours(fields.get("resume_max_age")),
        run_id=_uuid(fields.get("run_id"), "run_id"),
        worker=_worker(fields.get("worker")),
        failure=_mapping(fields.get("failure"), "failure"),
        execution=str(fields["execution"]) if "execution" in fields else None,
        fresh_request=_fingerprint(fields) if no_resume else None,
        continues=isinstance(event, Mapping) and any(k in event for k in _CONTINUATION),
    )
    _check_combination(request)
    return request


def _fingerprint(fields: Mapping[str, Any]) -> str:
    """sha256 hex of the request's fields, ``action`` aside (their workflow's states differ in
    it); a hash, so nothing of the input is stored in the run."""
    shape = {k: v for k, v in fields.items() if k != "action"}
    text = json.dumps(shape, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _requested_action(event: Any) -> str | None:
    """The action inside the envelope; "migrate" for an envelope without one; else None."""
    if not isinstance(event, Mapping) or not any(p in event for p in _ENVELOPE):
        return None
    for part in ("input", "defaults"):
        nested = event.get(part)
        if isinstance(nested, Mapping) and isinstance(nested.get("action"), str):
            action: str = nested["action"]
            if action.strip().lower() not in ACTIONS:
                raise ConfigError(
                    f"unknown action {action!r} in the execution input; use one of "
                    f"{', '.join(ACTIONS)}",
                    field="action",
                )
            return action
    return DEFAULT_ACTION


def _check_combination(r: Request) -> None:
    if r.no_resume and r.resume_run_id is not None:
        raise ConfigError(
            "no_resume and resume_run_id contradict each other; send only one of them",
            field="no_resume",
        )
    several = r.source_names is None or len(r.source_names) != 1
    for name, value in (("run_id", r.run_id), ("resume_run_id", r.resume_run_id)):
        if value is not None and several:
            raise ConfigError(
                f"{name} belongs to one source's run: give exactly one source_name with it",
                field="source_name",
            )


def _names(value: Any, field: str) -> tuple[str, ...] | None:
    """One name, a comma-separated string, or a list of names; empty means "not given"."""
    if value is None:
        return None
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise ConfigError(
            f"event field '{field}' must be a name, a comma-separated string or a list of names, "
            f"not {_json_type(value)}",
            field=field,
        )
    names = tuple(dict.fromkeys(n.strip() for n in items if n.strip()))
    return names or None


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"event field '{field}' must be true or false, not {value!r}", field=field)


def _uuid(value: Any, field: str) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ConfigError(
            f"event field '{field}' is not a run id (a UUID such as "
            f"'2f1c...-...'): {str(value)[:60]!r}",
            hint="take it from the run_id of an earlier answer or from `snowpg status`",
            field=field,
        ) from None


def _hours(value: Any) -> float | None:
    if value is None:
        return None
    try:
        hours = float(value)
    except (TypeError, ValueError):
        hours = -1.0
    if isinstance(value, bool) or not hours > 0:
        raise ConfigError(
            f"event field 'resume_max_age' must be a positive number of hours, not {value!r}",
            field="resume_max_age",
        )
    return hours


def _worker(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"event field 'worker' must be an integer, not {value!r}", field="worker")
    try:
        return int(value)
    except ValueError:
        raise ConfigError(
            f"event field 'worker' must be an integer, not {value!r}", field="worker"
        ) from None


def _mapping(value: Any, field: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigError(f"event field '{field}' must be a JSON object", field=field)
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__

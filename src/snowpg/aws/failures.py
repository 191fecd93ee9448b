"""Reading a failed Step Functions execution's state: its run id and a one-line message; pure."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from snowpg.logs import redact

# Longest failure message written to migration_runs by record_failure.
MAX_FAILURE_CHARS = 1000


def find_run_id(state: Mapping[str, Any]) -> uuid.UUID | None:
    """The run id a state machine's state carries (loop state, last answer, prepare step)."""
    candidates = [
        _dig(state, "loop", "run_id"),
        _dig(state, "run_id"),
        _dig(state, "migration", "body", "run_id"),
        _dig(state, "prepare", "body", "run_id"),
    ]
    for c in candidates:
        if isinstance(c, str) and c:
            try:
                return uuid.UUID(c)
            except ValueError:
                continue
    return None


def failure_message(state: Mapping[str, Any], execution: str | None) -> str:
    """One line: the Step Functions error and cause, or the failed step's answer."""
    where = f"Step Functions execution {execution}" if execution else "Step Functions execution"
    error = state.get("error")
    if isinstance(error, Mapping):
        name = str(error.get("Error", "error"))
        cause = str(error.get("Cause", ""))
        try:
            parsed = json.loads(cause)
        except (json.JSONDecodeError, TypeError):
            parsed = None
        if isinstance(parsed, Mapping):
            cause = str(parsed.get("errorMessage") or parsed.get("message") or cause)
        text = f"{where} failed: {name}: {cause}"
    else:
        text = f"{where} failed"
        for step in ("migration", "prepare", "connections", "validation"):
            body = _dig(state, step, "body")
            if isinstance(body, Mapping) and body.get("status") == "failed":
                text += f" at {step}: {body.get('message') or body.get('error') or 'failed'}"
                break
        if _dig(state, "loop", "timeouts"):
            text += f" after {_dig(state, 'loop', 'timeouts')} Lambda timeout(s)"
    return redact(" ".join(text.split()))[:MAX_FAILURE_CHARS]


def _dig(data: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(k)
    return data

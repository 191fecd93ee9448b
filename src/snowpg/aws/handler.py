"""The AWS Lambda entry point, ``snowpg.aws.handler.lambda_handler``: a thin adapter.

It parses the event (:mod:`snowpg.aws.events`), loads the settings (:mod:`snowpg.aws.secrets`),
runs the action (:mod:`snowpg.aws.actions`) and answers ``{"statusCode": ..., "body": {...}}``:

* 200 — ``body.status`` is ``completed`` or ``partial`` (more work remains: invoke again);
* 400 — bad input: the event or the configuration is wrong, a configured Snowflake table or
  schema does not exist, or the run was refused (every error the CLI exits 2 for);
* 500 — a failure: failed chunks, a failed connection test, Snowflake/PostgreSQL refusals.

Transient errors (``SourceUnavailable``, ``TargetUnavailable``, ``TransientError``) are *raised*
instead, so Lambda reports their class name as ``errorType`` and a Step Functions ``Retry`` on
those names retries them with backoff. Every message is redacted; logs are JSON lines carrying the
request id.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from typing import Any

from snowpg import logs
from snowpg.aws import actions
from snowpg.aws.events import parse_event
from snowpg.aws.secrets import load_lambda_settings
from snowpg.errors import SnowpgError, TransientError

log = logging.getLogger("snowpg.aws")

_lock = threading.Lock()


class _RequestIdFilter(logging.Filter):
    """Stamps the invocation's request id on every record, worker threads included (a Lambda
    container runs one invocation at a time)."""

    request_id: str | None = None
    level: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "aws_request_id", None) is None:
            record.aws_request_id = self.request_id
        return True


_request_filter = _RequestIdFilter()


class _Stdout:
    """Resolves sys.stdout at write time (Lambda sends both streams to CloudWatch Logs)."""

    def write(self, s: str) -> int:
        return sys.stdout.write(s)

    def flush(self) -> None:
        sys.stdout.flush()


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Run one action; see the module docstring for the answer's shape."""
    _request_filter.request_id = getattr(context, "aws_request_id", None)
    _configure_logging(os.environ.get("LOG_LEVEL") or "INFO")
    action = "migrate"
    try:
        request = parse_event(event)
        action = request.action
        names = request.source_names or ()
        logs.set_context(
            aws_request_id=getattr(context, "aws_request_id", None),
            source_name=names[0] if len(names) == 1 else None,
        )
        settings = load_lambda_settings()
        _configure_logging(settings.log_level)
        log.info("action %s started", action)
        body = actions.run(request, settings, context)
        code = 500 if body.get("status") == "failed" else 200
        return _answer(code, body)
    except TransientError as exc:
        log.warning("action %s: transient failure, raised for a retry: %s", action, exc)
        raise _public(exc) from None
    except SnowpgError as exc:
        if exc.exit_code == 2:  # the CLI's "bad input or refused": config, refusal, no such table
            log.error("action %s refused: %s", action, exc)
            return _answer(400, _error_body(action, exc))
        log.error("action %s failed: %s", action, exc)
        return _answer(500, _error_body(action, exc))
    except Exception as exc:
        log.exception("action %s failed unexpectedly", action)
        return _answer(500, _error_body(action, exc))


def _answer(code: int, body: dict[str, Any]) -> dict[str, Any]:
    # Round-trip through JSON: datetimes and UUIDs become strings, as Lambda would need them.
    clean = json.loads(json.dumps(body, default=str))
    return {"statusCode": code, "body": clean}


def _error_body(action: str, exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, SnowpgError):
        message = logs.redact(str(exc))
    else:
        first = str(exc).splitlines()[0] if str(exc) else ""
        message = logs.redact(f"unexpected {type(exc).__name__}: {first}")
    body: dict[str, Any] = {
        "status": "failed",
        "action": action,
        "error": type(exc).__name__,
        "message": message,
    }
    for key in ("field", "table", "column", "chunk_id"):
        value = getattr(exc, key, None)
        if value is not None:
            body[key] = value
    return body


def _public(exc: SnowpgError) -> SnowpgError:
    """The same error class (Step Functions matches its name) with a redacted message."""
    try:
        return type(exc)(logs.redact(exc.message), hint=exc.hint)
    except TypeError:
        return TransientError(logs.redact(str(exc)))


def _configure_logging(level: str) -> None:
    level = level.upper()
    logger = logging.getLogger("snowpg")
    with _lock:
        ours = any(_request_filter in h.filters for h in logger.handlers)
        if ours and _request_filter.level == level:
            return
        logs.configure(level, json_lines=True, stream=_Stdout())
        for handler in logger.handlers:
            handler.addFilter(_request_filter)
        _request_filter.level = level

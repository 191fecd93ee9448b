"""Logging set-up for the CLI (human lines) and Lambda (one JSON object a line), and redaction.

Library modules log to ``logging.getLogger("snowpg.<module>")`` and never configure handlers.
Every text that may carry a driver's message goes through :func:`redact` before it reaches a log
line, an exception shown to the user, or a status row.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import urllib.parse
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

_secrets: set[str] = set()
_lock = threading.Lock()

# Patterns that look like credentials whatever their value: DSN passwords, PEM blocks, key=value.
_PATTERNS = [
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        "***",
    ),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[^\s]*"), "***"),
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+(@)"), r"\1***\2"),
    (
        re.compile(
            r"(?i)\b(password|passwd|pwd|passphrase|secret|token)(\s*[=:]\s*)('[^']*'|\"[^\"]*\"|\S+)"
        ),
        r"\1\2***",
    ),
]

# Secrets shorter than this are not replaced verbatim: "a" would blank out every letter a.
_MIN_SECRET_LEN = 4


def register_secrets(values: Iterable[str | None]) -> None:
    """Remember secret values so :func:`redact` removes them wherever they appear."""
    with _lock:
        for v in values:
            if not v or len(v) < _MIN_SECRET_LEN:
                continue
            _secrets.update(_escaped_forms(v))
            # A PEM key also appears line by line and with escaped newlines.
            if "\n" in v:
                _secrets.add(v.replace("\n", "\\n"))
                _secrets.update(line for line in v.splitlines() if len(line) >= 16)


def _escaped_forms(secret: str) -> set[str]:
    """``secret`` as servers and libraries echo it: raw, repr, JSON, URL-encoded, libpq-quoted."""
    forms = {
        secret,
        repr(secret)[1:-1],  # Python repr, without its quotes
        json.dumps(secret)[1:-1],  # JSON string body
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret, safe=""),
        secret.replace("\\", "\\\\").replace("'", "\\'"),  # libpq conninfo value
        secret.replace("'", "''"),  # SQL string literal
        secret.replace('"', '""'),  # SQL quoted identifier
    }
    return {f for f in forms if len(f) >= _MIN_SECRET_LEN}


def redact(text: str) -> str:
    """``text`` with every registered secret and credential-looking value replaced by ``***``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        if s in text:
            text = text.replace(s, "***")
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


# Fields a log record may carry (via ``extra=``) that the JSON formatter lifts to the top level.
CONTEXT_FIELDS = ("run_id", "source_name", "table", "chunk_id", "aws_request_id", "rows", "seconds")
# Keys every JSON line carries (null when unknown), so Logs Insights queries see one schema.
ALWAYS_FIELDS = ("run_id", "source_name", "table", "chunk_id", "aws_request_id")

# Process-wide context (e.g. the Lambda request id and source) added to every JSON line. Not a
# contextvar: worker threads must see it too, and a Lambda process serves one request at a time.
_context: dict[str, Any] = {}


def set_context(**fields: Any) -> None:
    """Bind fields (``aws_request_id=``, ``source_name=``, ``run_id=``...) to every later line;
    a value of None unbinds the field."""
    with _lock:
        for k, v in fields.items():
            if v is None:
                _context.pop(k, None)
            else:
                _context[k] = v


def get_context() -> dict[str, Any]:
    with _lock:
        return dict(_context)


def clear_context() -> None:
    with _lock:
        _context.clear()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        bound = get_context()
        for key in (*CONTEXT_FIELDS, *(k for k in bound if k not in CONTEXT_FIELDS)):
            value = getattr(record, key, None)
            if value is None:
                value = bound.get(key)
            if value is not None:
                out[key] = str(value) if key == "run_id" else value
            elif key in ALWAYS_FIELDS:
                out[key] = None
        if record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, default=str)


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        ctx = [
            f"{k}={getattr(record, k)}"
            for k in ("table", "chunk_id")
            if getattr(record, k, None) is not None
        ]
        line = f"{ts} {record.levelname:<7} {record.getMessage()}"
        if ctx:
            line += "  [" + " ".join(ctx) + "]"
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


def configure(level: str = "INFO", json_lines: bool = False, stream: Any = None) -> None:
    """Configure the ``snowpg`` logger once for the CLI or Lambda; replaces earlier handlers."""
    logger = logging.getLogger("snowpg")
    for h in list(logger.handlers):
        logger.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else HumanFormatter())
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    logger.propagate = False
    # psycopg warns "error ignored terminating ...: the connection is lost" after every cut that
    # snowpg already reports and retries; only the driver's errors are shown, formatted and
    # redacted like snowpg's own (without a handler Python printed its warnings raw to stderr).
    driver = logging.getLogger("psycopg")
    for h in list(driver.handlers):
        driver.removeHandler(h)
    driver.addHandler(handler)
    driver.setLevel(logging.ERROR)
    driver.propagate = False

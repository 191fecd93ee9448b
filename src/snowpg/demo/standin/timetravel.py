"""Time Travel clauses through the stand-in: fakesnow (DuckDB) cannot run ``AT(...)``.

The stand-in takes every ``AT(TIMESTAMP|OFFSET|STATEMENT => ...)`` / ``BEFORE(STATEMENT => ...)``
out of the SQL text before forwarding it, so the query reads the table *as it is now*: it does
not really travel in time (docs/testing.md). What it does emulate is the service's refusal of a
point older than the table's retention, ``StandinSettings.retention_s``, with the service's error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# The service's answer for a point outside the retention (Snowflake docs, AT | BEFORE).
NOT_AVAILABLE = (
    "000707",
    "Time travel data is not available for table {table}. The requested time is either beyond "
    "the allowed time travel period or before the object creation time.",
)
_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
_CLAUSE = re.compile(
    r"\s+(?:AT|BEFORE)\s*\(\s*(?P<kind>TIMESTAMP|OFFSET|STATEMENT)\s*=>\s*"
    r"(?P<value>'(?:[^']|'')*'(?:\s*::\s*\w+)?|[^()]*?)\s*\)",
    re.IGNORECASE,
)
_NAME_ROOM = 1100  # three quoted identifiers of 255 characters and their dots fit
_TABLE_BEFORE = re.compile(rf"{_NAME}(?:\s*\.\s*{_NAME})*$")
_POINT = re.compile(
    r"^'(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?\s*(?:([+-])(\d{2}):?(\d{2})|Z)?'"
)


@dataclass(frozen=True)
class Travel:
    """One Time Travel clause of a query: the table it follows and the point it names."""

    table: str  # the last part of the name, unquoted, as the service's error names it
    kind: str  # TIMESTAMP, OFFSET or STATEMENT
    point: datetime | None  # a TIMESTAMP point, when it can be read


def _last_name(qualified: str) -> str:
    last: str = re.findall(_NAME, qualified)[-1]
    if last.startswith('"'):
        return last[1:-1].replace('""', '"')
    return last.upper()


def _point(value: str) -> datetime | None:
    m = _POINT.match(value.strip())
    if m is None:
        return None
    whole, frac, sign, hh, mm = m.groups()
    local = datetime.strptime(whole.replace("T", " "), "%Y-%m-%d %H:%M:%S")
    local = local.replace(microsecond=int(((frac or "") + "000000")[:6]))
    offset = (int(hh) * 60 + int(mm)) * (1 if sign == "+" else -1) if sign else 0
    return (local - timedelta(minutes=offset)).replace(tzinfo=UTC)


def strip_clauses(sql: str) -> tuple[str, list[Travel]]:
    """``sql`` without its Time Travel clauses, and what they asked for."""
    if "=>" not in sql:
        return sql, []
    found: list[Travel] = []
    parts: list[str] = []
    start = 0
    for m in _CLAUSE.finditer(sql):
        table = _TABLE_BEFORE.search(sql[max(0, m.start() - _NAME_ROOM) : m.start()])
        if table is None:  # not after a table name: not a Time Travel clause
            continue
        kind = m.group("kind").upper()
        point = _point(m.group("value")) if kind == "TIMESTAMP" else None
        found.append(Travel(_last_name(table.group(0)), kind, point))
        parts.append(sql[start : m.start()])
        start = m.end()
    parts.append(sql[start:])
    return "".join(parts), found


def refusal(travels: list[Travel], retention_s: float, now: datetime) -> tuple[str, str] | None:
    """The service's error for the first point older than ``retention_s``; None if all are kept."""
    for t in travels:
        if t.point is not None and (now - t.point).total_seconds() > retention_s:
            return NOT_AVAILABLE[0], NOT_AVAILABLE[1].format(table=t.table)
    return None

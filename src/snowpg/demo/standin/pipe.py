"""Snowflake's ``->>`` flow operator, which fakesnow lacks: one statement, run as a chain.

The service runs ``first ->> second ->> ...`` as one statement whose answer is the last one's;
``$n`` in a later statement is the result of the statement n places back. Here each statement
goes to fakesnow in turn, and a ``$n`` becomes a CTE holding that earlier result as literal rows
(text or NULL, which is what the catalog joins this serves compare). ``SHOW PRIMARY KEYS``
results get the ``key_sequence`` the service reports (fakesnow says 1 for every key column).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from snowpg.demo.standin.encode import from_ipc

Upstream = Callable[[dict[str, Any]], dict[str, Any]]
Result = tuple[list[str], list[list[str | None]]]

_QUOTED_OR_PIPE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|->>")
_REFERENCE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$(\d+)\b")
_SHOW_KEYS = re.compile(r"^\s*show\s+primary\s+keys\b", re.I)


def split_chain(sql: str) -> list[str]:
    """The statements of a chain (one element for a plain statement)."""
    parts, start = [], 0
    for m in _QUOTED_OR_PIPE.finditer(sql):
        if m.group(0) == "->>":
            parts.append(sql[start : m.start()])
            start = m.end()
    parts.append(sql[start:])
    return [p.strip() for p in parts]


def run(body: dict[str, Any], upstream: Upstream) -> dict[str, Any]:
    """fakesnow's answer to ``body``, running a chain statement by statement."""
    statements = split_chain(str(body.get("sqlText", "")))
    if len(statements) == 1:
        return upstream(body)
    results: list[Result] = []
    answer: dict[str, Any] = {}
    for i, statement in enumerate(statements):
        answer = upstream({**body, "sqlText": _with_references(statement, i, results)})
        if not answer.get("success"):
            return answer
        result = _result(answer)
        if _SHOW_KEYS.match(statement):
            result = _numbered_keys(result)
        results.append(result)
    return answer


def _with_references(statement: str, index: int, results: list[Result]) -> str:
    ctes: dict[int, str] = {}

    def replace(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)
        back = int(m.group(1))
        if not 1 <= back <= index:
            raise ValueError(f"${back} refers to no earlier statement of the chain")
        ctes[index - back] = f'"__pipe_{index - back}"'
        return ctes[index - back]

    text = _REFERENCE.sub(replace, statement)
    if not ctes:
        return text
    defs = ", ".join(f"{name} AS ({_rows_sql(results[i])})" for i, name in sorted(ctes.items()))
    return f"WITH {defs} {text}"


def _rows_sql(result: Result) -> str:
    names, rows = result
    cols = ", ".join('"' + n.replace('"', '""') + '"' for n in names)
    if not rows:
        nulls = ", ".join(f'CAST(NULL AS VARCHAR) AS "{n}"' for n in names)
        return f"SELECT {nulls} WHERE 1 = 0"
    values = ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)
    return f"SELECT * FROM (VALUES {values}) AS v({cols})"  # noqa: S608 (literals quoted above)


def _literal(value: str | None) -> str:
    if value is None:
        return "CAST(NULL AS VARCHAR)"
    return "'" + value.replace("'", "''") + "'"


def _result(answer: dict[str, Any]) -> Result:
    data = answer.get("data") or {}
    names = [str(c.get("name")) for c in data.get("rowtype") or []]
    if data.get("rowsetBase64"):
        table = from_ipc(base64.b64decode(data["rowsetBase64"]))
        columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
        rows = [list(r) for r in zip(*columns, strict=True)] if columns else []
    else:
        rows = [list(r) for r in data.get("rowset") or []]
    return names, [[None if v is None else str(v) for v in r] for r in rows]


def _numbered_keys(result: Result) -> Result:
    names, rows = result
    lowered = [n.lower() for n in names]
    if not {"table_name", "key_sequence"} <= set(lowered):
        return result
    parts = ("database_name", "schema_name", "table_name")
    ident = [lowered.index(n) for n in parts if n in lowered]
    seq = lowered.index("key_sequence")
    counters: dict[tuple[str | None, ...], int] = {}
    out = []
    for row in rows:
        key = tuple(row[i] for i in ident)
        counters[key] = counters.get(key, 0) + 1
        out.append([*row[:seq], str(counters[key]), *row[seq + 1 :]])
    return names, out

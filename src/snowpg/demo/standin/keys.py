"""Primary keys declared in the catalog only, as Snowflake keeps them: never enforced.

fakesnow (DuckDB) enforces a PRIMARY KEY it is given, so a test that needs duplicate key values
creates the table without one and declares the key (``{"primary_keys": {"TABLE": ["COL", ...]}}``).
A ``SHOW PRIMARY KEYS IN TABLE|SCHEMA ...`` statement, alone or inside a ``->>`` chain, is run on
fakesnow and its answer becomes a SELECT of the same columns with the declared tables' rows in
place of fakesnow's rows for them.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from snowpg.demo.standin.encode import from_ipc

Upstream = Callable[[dict[str, Any]], dict[str, Any]]

_SHOW_PK = re.compile(
    r"^\s*show\s+primary\s+keys\s+in\s+(table|schema)\s+(.+?)\s*;?\s*$", re.I | re.S
)
_NAME_PART = re.compile(r'"((?:[^"]|"")*)"|([^."\s]+)')


def name_parts(text: str) -> list[str]:
    """``"DB".public."My T"`` -> ``["DB", "PUBLIC", "My T"]`` (unquoted parts upper-cased)."""
    return [q.replace('""', '"') if q else u.upper() for q, u in _NAME_PART.findall(text)]


def _lit(value: str | None) -> str:
    return "CAST(NULL AS VARCHAR)" if value is None else "'" + value.replace("'", "''") + "'"


def _rows(answer: dict[str, Any]) -> tuple[list[str], list[list[str | None]]]:
    data = answer.get("data") or {}
    names = [str(c.get("name")) for c in data.get("rowtype") or []]
    if data.get("rowsetBase64"):
        table = from_ipc(base64.b64decode(data["rowsetBase64"]))
        rows = [list(r.values()) for r in table.to_pylist()]
    else:
        rows = [list(r) for r in data.get("rowset") or []]
    return names, [[None if v is None else str(v) for v in r] for r in rows]


def declared_rows(
    names: Sequence[str], database: str, schema: str, declared: Mapping[str, Sequence[str]]
) -> list[list[str | None]]:
    """SHOW PRIMARY KEYS rows (in the order of ``names``) for the declared tables."""
    out = []
    for table, columns in declared.items():
        for seq, column in enumerate(columns, 1):
            row = {
                "created_on": "1970-01-01 00:00:00.000 +0000",
                "database_name": database,
                "schema_name": schema,
                "table_name": table,
                "column_name": column,
                "key_sequence": str(seq),
                "constraint_name": f"{table.lower()}_pkey",
                "rely": "false",
            }
            out.append([row.get(n.lower()) for n in names])
    return out


def run(body: dict[str, Any], upstream: Upstream, declared: Mapping[str, Sequence[str]]) -> Any:
    """fakesnow's answer to ``body``, with the declared keys when it is a SHOW PRIMARY KEYS."""
    m = _SHOW_PK.match(str(body.get("sqlText", "")))
    if m is None or not declared:
        return upstream(body)
    parts = name_parts(m[2])
    if m[1].lower() == "table":
        database, schema, wanted = ([""] * 3 + parts)[-3:]
        declared = {t: c for t, c in declared.items() if t == wanted}
        if not declared:
            return upstream(body)
    else:
        database, schema = ([""] * 2 + parts)[-2:]
    answer = upstream(body)
    if not answer.get("success"):
        return answer
    names, rows = _rows(answer)
    lowered = [n.lower() for n in names]
    table_at = lowered.index("table_name")
    kept = [r for r in rows if r[table_at] not in declared]
    values = [*kept, *declared_rows(names, database, schema, declared)]
    cols = ", ".join('"' + n.replace('"', '""') + '"' for n in names)
    tuples = ", ".join("(" + ", ".join(_lit(v) for v in row) + ")" for row in values)
    select = f"SELECT * FROM (VALUES {tuples}) AS v({cols})"  # noqa: S608 (literals quoted)
    return upstream({**body, "sqlText": select})

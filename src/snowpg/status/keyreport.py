"""How a table's source-key findings read in the run summary, ``snowpg status`` and the Lambda
answer. Pure: it formats the ``duplicate_keys`` / ``deduplicated`` entries of a table's status
metadata (written by :mod:`snowpg.run.keys` and the incremental merge)."""

from __future__ import annotations

from typing import Any


def keep_rule(watermark: str | None) -> str:
    if watermark:
        return f'greatest "{watermark}" kept, ties by row text'
    return "greatest row text kept"


def describe_duplicates(found: dict[str, Any]) -> str:
    """``3 key value(s) held by more than one row (4 extra rows), e.g. (7), (9)``."""
    parts = []
    if found.get("key_values"):
        samples = ", ".join(
            "(" + ", ".join("NULL" if v is None else str(v) for v in s) + ")"
            for s in found.get("samples") or []
        )
        text = (
            f"{found['key_values']:,} key value(s) held by more than one row "
            f"({found.get('extra_rows', 0):,} extra row(s))"
        )
        parts.append(f"{text}, e.g. {samples}" if samples else text)
    if found.get("null_key_rows"):
        parts.append(f"{found['null_key_rows']:,} row(s) with a NULL key")
    return "; ".join(parts) or "no duplicates"


def notes(metadata: dict[str, Any]) -> list[str]:
    """The run summary's lines about a table's keys."""
    out = []
    dup = metadata.get("duplicate_keys")
    if isinstance(dup, dict):
        out.append(
            f"duplicate source key ({', '.join(dup.get('columns') or [])}): "
            f"{describe_duplicates(dup)}; every row loaded, non-unique index "
            f"{dup.get('index')} instead of the primary key"
        )
    ded = metadata.get("deduplicated")
    if isinstance(ded, dict):
        out.append(
            f"duplicate upsert key ({', '.join(ded.get('columns') or [])}): "
            f"{ded.get('dropped_rows', 0):,} row(s) dropped, one kept per key "
            f"({ded.get('rule')})"
        )
    return out

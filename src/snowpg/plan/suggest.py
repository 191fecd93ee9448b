"""What ``snowpg init`` writes for a schema: one explicit entry per table, its key and a
suggested chunking, from the schema's catalog alone (no query of any table). Pure.

Key: the declared primary key (written nowhere: it is the default), else ``chunking_columns``
naming the first NOT NULL number, date or timestamp column, else nothing (the planner then picks
the column with the most distinct values). ``batch_size``: rows holding about
:data:`CHUNK_SOURCE_BYTES` of the table's Snowflake storage, two significant digits, between
:data:`MIN_BATCH` and :data:`MAX_BATCH`; none for a table that fits one default chunk or has no size
(views). docs/configuration.md "snowpg init" states these numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from snowpg.config import Settings
from snowpg.model import SourceTable
from snowpg.names import shorten
from snowpg.typefamilies import DATE_TYPES, FIXED_TYPES, TIMESTAMP_TYPES, base_type

CHUNK_SOURCE_BYTES = 16 * 1024 * 1024  # about one compressed micro-partition
MIN_BATCH: int = Settings.model_fields["batch_size"].default
MAX_BATCH = 500_000
_KEY_TYPES = frozenset(FIXED_TYPES + DATE_TYPES + TIMESTAMP_TYPES)
_PLAIN_NAME = re.compile(r"^[A-Z_][A-Z0-9_$]*$")


@dataclass(frozen=True)
class Suggestion:
    """One table as ``init`` proposes to copy it."""

    table: SourceTable
    target: str
    key: tuple[str, ...]  # the primary key, or the suggested chunking columns, or ()
    key_source: str  # "primary key", "suggested" or "chosen when planning"
    batch_size: int | None  # None: the default

    @property
    def chunks(self) -> int | None:
        """Chunks the table would get at this batch size (None when the row count is unknown)."""
        rows = self.table.row_count
        if rows is None:
            return None
        return max(1, math.ceil(rows / (self.batch_size or MIN_BATCH)))

    def entry(self) -> dict[str, Any]:
        """The table's entry in config.json."""
        out: dict[str, Any] = {"enabled": True, "source": config_name(self.table.name)}
        out["target"] = self.target
        if self.key_source == "suggested":
            out["chunking_columns"] = list(self.key)
        if self.batch_size is not None:
            out["batch_size"] = self.batch_size
        return out


def config_name(name: str) -> str:
    """A Snowflake name as the existing tool's config.json writes it: plain upper-case names as
    they are, any other quoted (``"\\"Mixed Case\\""``); snowpg reads both forms."""
    if _PLAIN_NAME.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def suggest_key(table: SourceTable) -> tuple[tuple[str, ...], str]:
    if table.primary_key:
        return table.primary_key, "primary key"
    for col in sorted(table.columns, key=lambda c: c.position):
        if not col.nullable and base_type(col.data_type) in _KEY_TYPES:
            return (col.name,), "suggested"
    return (), "chosen when planning"


def suggest_batch_size(row_count: int | None, size_bytes: int | None) -> int | None:
    if not row_count or not size_bytes or row_count <= MIN_BATCH:
        return None
    rows = row_count * CHUNK_SOURCE_BYTES / size_bytes
    rows = min(MAX_BATCH, max(MIN_BATCH, rows))
    digits = 10 ** max(0, int(math.log10(rows)) - 1)
    fitted = int(rows // digits * digits)
    return fitted if fitted > MIN_BATCH else None


def suggest(tables: list[SourceTable]) -> list[Suggestion]:
    """One suggestion per table, by name; targets made unique (``orders``, ``orders_2``)."""
    used: set[str] = set()
    out = []
    for table in sorted(tables, key=lambda t: t.name):
        target = shorten(table.name.lower(), full_name=table.name)
        n = 1
        while target in used:
            n += 1
            target = shorten(f"{table.name.lower()}_{n}", full_name=f"{table.name}_{n}")
        used.add(target)
        key, key_source = suggest_key(table)
        out.append(
            Suggestion(
                table, target, key, key_source, suggest_batch_size(table.row_count, table.bytes)
            )
        )
    return out


def config_for(
    suggestions: list[Suggestion],
    *,
    source_name: str,
    database: str,
    schema: str,
    target_database: str,
    target_schema: str,
    connections: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A whole config.json (the existing tool's format) with one source."""
    out: dict[str, Any] = dict(connections or {})
    out["sources"] = [
        {
            "source_name": source_name,
            "enabled": True,
            "source_sf_database": database,
            "source_sf_schema": schema,
            "target_pg_database": target_database,
            "target_pg_schema": target_schema,
            "tables": [s.entry() for s in suggestions],
        }
    ]
    return out

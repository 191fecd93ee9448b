"""Plan an incremental load: the watermark window of a run, its upsert keys and delete checks.

A table is *incremental* when it has a ``source_watermark`` or ``uniqueness_columns``. Each run
of such a table copies the rows whose watermark lies in ``(low, high]``:

* ``low`` is the target's high-water mark: ``max(target_watermark)`` in the target table when that
  column is configured, else the ``high`` recorded by the last completed run of the table in
  ``migration_status``; none when the target is missing or empty (a first, full load);
* ``high`` is the source's maximum watermark when the run is planned.

The window becomes part of the table's source filter, which is stored in the table's status row
with the chunks, so a resumed run (after a crash) reads exactly the same window. Rows changing
while a run is in progress have a watermark above ``high`` and are caught by the next run.
"""

# The window's bounds are watermark texts Snowflake itself produced, written as escaped string
# literals (see _literal); identifiers go through quote_ident.
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from snowpg.config import Settings, SourceConfig, TableConfig
from snowpg.errors import ConfigError, RunRefused
from snowpg.model import Chunk, SourceTable, TablePlan
from snowpg.plan import boundaries
from snowpg.plan.sizing import KEY_CHUNK_ROWS
from snowpg.postgres.watermarks import max_watermark, table_is_empty
from snowpg.snowflake import statements
from snowpg.snowflake.catalog import check_columns_exist
from snowpg.snowflake.watermarks import high_watermark
from snowpg.status.watermarks import recorded_high
from snowpg.typefamilies import EXACT_ORDER_KEY_TYPES, base_type

log = logging.getLogger("snowpg.plan.watermark")


def is_incremental(table: TableConfig) -> bool:
    return bool(table.source_watermark or table.uniqueness_columns)


def _literal(text: str) -> str:
    """A Snowflake string literal holding ``text``."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def window_predicate(column: str, sql_type: str, low: str | None, high: str | None) -> str | None:
    """Snowflake condition ``low < W <= high`` (a missing bound is open); None = every row."""
    expr = statements.key_expr(column, sql_type)
    btype = statements.bound_type(sql_type)
    parts = []
    if low is not None:
        parts.append(f"{expr} > CAST({_literal(low)} AS {btype})")
    if high is not None:
        parts.append(f"{expr} <= CAST({_literal(high)} AS {btype})")
    elif low is not None:
        parts.append("FALSE")  # the source has no watermark at all: nothing new
    return " AND ".join(parts) if parts else None


def combine_filters(base: str | None, window: str | None) -> str | None:
    if window is None:
        return base
    if base and base.strip():
        return f"({base}) AND ({window})"
    return window


def current_low(pg: Any, source: SourceConfig, table: TableConfig, source_table: str) -> str | None:
    """The target's high-water mark: where the next run starts (None: from the beginning)."""
    schema, target = source.target_pg_schema, table.target_name
    if table.source_watermark is None or table_is_empty(pg, schema, target):
        return None
    if table.target_watermark:
        return max_watermark(pg, schema, target, table.target_watermark)
    return recorded_high(pg, source.source_name, source_table, table.source_watermark)


@dataclass(frozen=True)
class Window:
    """What one run of an incremental table copies: rows with a watermark in ``(low, high]``."""

    keys: tuple[str, ...]  # source upsert keys: uniqueness_columns, else the primary key
    initial: bool  # a first, full load (target empty or truncated on start)
    low: str | None
    high: str | None
    watermark_type: str | None
    source_filter: str | None  # the table's own filter and the window, combined


def window_for(
    sf: Any, pg: Any, source: SourceConfig, table: TableConfig, src: SourceTable
) -> Window:
    """The run's window of an incremental table; refuses a load that would duplicate rows."""
    what = f"table {table.source}"
    wm = table.source_watermark
    if wm:
        check_columns_exist(src, [wm], f"source_watermark of {what}")
    keys = tuple(table.uniqueness_columns or src.primary_key)
    check_columns_exist(src, list(keys), f"uniqueness_columns of {what}")
    schema, target = source.target_pg_schema, table.target_name
    initial = table.truncate_onstart or table_is_empty(pg, schema, target)
    low = None if initial else current_low(pg, source, table, src.name)
    if not initial and not keys and low is None:
        raise RunRefused(
            f"target table {schema}.{target} already has rows and no high-water mark is known "
            "for it; without uniqueness columns a load would duplicate them",
            hint="set target_watermark or uniqueness_columns for table "
            f"{table.source}, or truncate_onstart",
            table=table.source,
        )
    wm_type = high = None
    if wm:
        col = src.column(wm)
        assert col is not None
        wm_type = col.sql_type
        high = high_watermark(sf, src, wm, table.source_filter)
    predicate = window_predicate(wm, wm_type, low, high) if wm and wm_type else None
    return Window(
        keys=keys,
        initial=initial,
        low=low,
        high=high,
        watermark_type=wm_type,
        source_filter=combine_filters(table.source_filter, predicate),
    )


def with_window(
    settings: Settings, sf: Any, table: TableConfig, plan: TablePlan, window: Window
) -> TablePlan:
    """``plan`` (made with the window's filter) with its upsert keys, delete-check chunks and
    the ``incremental`` settings a run and a resumed run read back."""
    keys, low, high = window.keys, window.low, window.high
    to_target = {m.source: m.target for m in plan.mappings}
    missing = [k for k in keys if k not in to_target]
    if missing:
        raise ConfigError(
            f"uniqueness column {missing[0]!r} of table {table.source} has no column in the "
            "target table",
            table=table.source,
            field="uniqueness_columns",
        )
    chunks = list(plan.chunks)
    delete_from: int | None = None
    if table.detect_deletes and not window.initial:
        delete_chunks = _delete_chunks(settings, sf, plan.source, table, keys, len(chunks) + 1)
        delete_from = delete_chunks[0].chunk_id
        chunks.extend(delete_chunks)
    meta: dict[str, Any] = {
        "watermark_column": table.source_watermark,
        "watermark_type": window.watermark_type,
        "low": low,
        "high": high if high is not None else low,
        "base_filter": table.source_filter,
        "source_keys": list(keys),
        "target_keys": [to_target[k] for k in keys],
        "insert_only": settings.insert_only_for(table),
        "initial": window.initial,
        "detect_deletes": table.detect_deletes,
        "delete_mode": table.delete_mode,
        "flag_column": table.deleted_flag_column if table.delete_mode == "flag" else None,
        "delete_from": delete_from,
    }
    log.info(
        "%s: incremental window (%s, %s]%s",
        table.source,
        low if low is not None else "-inf",
        high if high is not None else "+inf",
        " (first load)" if window.initial else "",
        extra={"table": table.source},
    )
    return dataclasses.replace(plan, chunks=tuple(chunks), incremental=meta)


def _delete_chunks(
    settings: Settings,
    sf: Any,
    src: SourceTable,
    table: TableConfig,
    keys: tuple[str, ...],
    start: int,
) -> list[Chunk]:
    """Key-range chunks over the whole source (no window), renumbered from ``start``."""
    what = f"detect_deletes of table {table.source}"
    if not keys:
        raise ConfigError(
            f"{what} needs uniqueness_columns (or a primary key in Snowflake)",
            table=table.source,
            field="detect_deletes",
        )
    for k in keys:
        col = src.column(k)
        assert col is not None
        if base_type(col.data_type) not in EXACT_ORDER_KEY_TYPES:
            raise ConfigError(
                f"{what}: uniqueness column {k!r} has type {col.data_type}; delete checks "
                "support number, text and date keys",
                table=table.source,
                field="detect_deletes",
            )
    chunks, _method = boundaries.plan_chunks(
        sf, src, keys, table.source_filter, settings.batch_size_for(table) or KEY_CHUNK_ROWS
    )
    return [
        Chunk(chunk_id=start + i, range=c.range, estimated_rows=0) for i, c in enumerate(chunks)
    ]

"""Choose a table's chunking key and ask Snowflake where to cut it.

Key choice (:func:`choose_chunking_columns`), first that applies:

1. the configured ``chunking_columns``                    -> ``range:A,B (chunking_columns)``
2. the primary key (``SHOW PRIMARY KEYS``)                -> ``range:ID (primary key)``
3. no primary key: the one orderable column (number, date, timestamp, text; not FLOAT, VARIANT,
   BINARY) with the most distinct values by ``APPROX_COUNT_DISTINCT``, the first by position on a
   tie                                                    -> ``range:C (no primary key; most
   distinct column)``
4. nothing usable (or every candidate holds at most one value) -> ``whole-table``: one chunk.

Cutting (:func:`plan_chunks`): one scan counts the rows under ``source_filter`` with a complete
key and with a NULL in a key column. ``n = ceil(rows / batch_size)``. For ``n <= 1`` the table is
one open range. Otherwise Snowflake numbers the rows into ``n`` equal buckets with
``NTILE(n) OVER (ORDER BY key)`` and returns only each bucket's first key (as exact text) and size —
a few rows however large the table; the key column never travels row by row. Those first keys are
the chunk boundaries (:mod:`snowpg.plan.chunking`). A key value repeated across buckets merges
them, so a very skewed key gives fewer, larger chunks — never a wrong partition.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from snowpg.errors import ConfigError
from snowpg.model import Chunk, SourceTable
from snowpg.plan.chunking import ranges_from_boundaries, single_range_chunks, whole_table_chunk
from snowpg.snowflake import reader, statements
from snowpg.snowflake.catalog import check_columns_exist
from snowpg.typefamilies import (
    DATE_TYPES,
    FIXED_TYPES,
    JSON_TYPES,
    TEXT_TYPES,
    TIMESTAMP_TYPES,
    base_type,
)

log = logging.getLogger("snowpg.plan.boundaries")

# Types a key column may have when the user names it: anything Snowflake orders and whose text
# form casts back (FLOAT text may round, which only moves a boundary, never breaks the partition).
_UNRANGEABLE_TYPES = frozenset(JSON_TYPES)

# Types snowpg picks on its own for a table without a primary key.
_AUTO_KEY_TYPES = frozenset(FIXED_TYPES + DATE_TYPES + TIMESTAMP_TYPES + TEXT_TYPES)

WHOLE_TABLE = "whole-table"


def choose_chunking_columns(
    table: SourceTable,
    configured: Sequence[str] | None,
    *,
    conn: Any = None,
    source_filter: str | None = None,
) -> tuple[tuple[str, ...], str]:
    """The key columns to cut ``table`` by, and how they were chosen (see the module docstring).

    ``conn`` is needed only for a table without a primary key (to measure distinct values); without
    it such a table is copied as one whole-table chunk.
    """
    if configured:
        what = f"chunking_columns of table {table.name}"
        check_columns_exist(table, configured, what)
        for name in configured:
            col = table.column(name)
            if col is not None and base_type(col.data_type) in _UNRANGEABLE_TYPES:
                raise ConfigError(
                    f"column {name} named in {what} is {col.data_type}, which has no range order",
                    hint="choose number, date, timestamp or text columns",
                    field=what,
                    table=table.qualified,
                    column=name,
                )
        cols = tuple(configured)
        return cols, f"range:{','.join(cols)} (chunking_columns)"
    if table.primary_key:
        return table.primary_key, f"range:{','.join(table.primary_key)} (primary key)"
    candidates = [c for c in table.columns if base_type(c.data_type) in _AUTO_KEY_TYPES]
    if not candidates or conn is None:
        return (), WHOLE_TABLE
    names = [c.name for c in sorted(candidates, key=lambda c: c.position)]
    query, params = statements.distinct_counts_sql(table, names, source_filter)
    row = reader.run_one(conn, query, params) or ()
    best, best_count = None, 1
    for name, count in zip(names, row, strict=False):
        if count is not None and int(count) > best_count:
            best, best_count = name, int(count)
    if best is None:
        return (), WHOLE_TABLE
    return (best,), f"range:{best} (no primary key; most distinct column)"


def _key_types(table: SourceTable, columns: Sequence[str]) -> tuple[str, ...]:
    check_columns_exist(table, columns, f"chunking columns of table {table.name}")
    types = []
    for name in columns:
        col = table.column(name)
        assert col is not None  # checked just above
        types.append(col.sql_type)
    return tuple(types)


def plan_chunks(
    conn: Any,
    table: SourceTable,
    chunking_columns: Sequence[str],
    source_filter: str | None,
    batch_size: int,
) -> tuple[list[Chunk], str]:
    """Chunks of about ``batch_size`` rows that together hold every row, and the method's name."""
    if batch_size < 1:
        raise ConfigError(
            f"batch_size of table {table.name} must be at least 1, got {batch_size}",
            field="batch_size",
            table=table.qualified,
        )
    if not chunking_columns:
        query, params = statements.count_sql(table, source_filter)
        rows = int(reader.run_scalar(conn, query, params) or 0)
        return [whole_table_chunk(rows)], WHOLE_TABLE

    columns = tuple(chunking_columns)
    types = _key_types(table, columns)
    method = f"range:{','.join(columns)}"
    query, params = statements.key_count_sql(table, columns, types, source_filter)
    counted = reader.run_one(conn, query, params) or (0, 0)
    key_rows, null_rows = int(counted[0] or 0), int(counted[1] or 0)
    n_buckets = math.ceil(key_rows / batch_size)
    if n_buckets <= 1:
        chunks = single_range_chunks(columns, types, key_rows, null_rows)
        return chunks, method if chunks[0].range.columns else WHOLE_TABLE

    query, params = statements.boundary_sql(table, columns, types, source_filter, n_buckets)
    bucket_rows = reader.run_all(conn, query, params)
    boundaries = [tuple(str(v) for v in r[1:-1]) for r in bucket_rows]
    counts = [int(r[-1]) for r in bucket_rows]
    chunks = ranges_from_boundaries(columns, types, boundaries, counts, null_rows)
    log.debug(
        "%s: %d key rows, %d NULL-key rows, %d buckets -> %d chunks",
        table.qualified,
        key_rows,
        null_rows,
        n_buckets,
        len(chunks),
    )
    return chunks, method

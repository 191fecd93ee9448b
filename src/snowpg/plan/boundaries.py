"""Choose a table's chunking key and where to cut it, without ever sorting the table.

Boundaries need not be exact: any sorted list of boundaries partitions the table (uneven chunks
cost time, never rows). So planning asks Snowflake only what it answers cheaply. Costs below are
for real Snowflake (docs/design.md, "Planning"; each query also pays 0.1-1 s of compile/queue).

Key choice (:func:`choose_chunking_columns`), first that applies:

1. the configured ``chunking_columns``                    -> ``range:A,B (chunking_columns)``
2. the primary key (``SHOW PRIMARY KEYS``, from the catalog) -> ``range:ID (primary key)``
3. no primary key (common: Snowflake keys are informational). Candidates are the number, date,
   timestamp and text columns (not FLOAT, VARIANT, BINARY), ranked NOT NULL first, then number
   before date/timestamp before text, then by position. A table the catalog shows fits one chunk
   takes the first candidate, no query (``range:C (no primary key; first NOT NULL number
   column)``); otherwise one query counts each candidate's distinct values in a sample of
   :data:`SAMPLE_ROWS_MAX` rows at most and takes the most distinct, ties by rank
   (``range:C (no primary key; most distinct column of a sample)``).
4. nothing usable (or every candidate holds one value in the sample) -> ``whole-table``.

Cutting (:func:`plan_chunks`), by case:

* **fits one chunk** (catalog ``row_count`` within one chunk, no ``source_filter``): no query. One
  open key range (NOT NULL key) or one whole-table chunk (a nullable key, whose NULL rows an open
  range would miss).
* **key statistics**: ``COUNT(*)``, ``COUNT(k)`` per key column, ``MIN``/``MAX`` of the leading
  column. Without a filter these come from micro-partition metadata (no scan); with a filter it is
  one scan of what the filter selects. Skipped when nothing needs it: no filter, a NOT NULL key and
  not a single integer key (the catalog row count stands in).
* **single integer key filling at least half of [MIN, MAX]** (:data:`DENSE_FILL`): equal-width
  ranges, no further query. With unique keys no chunk holds more than twice its share.
* **any other key** (sparse integers, decimals, dates, timestamps, text, composite keys): one
  sample query returns about :data:`SAMPLE_ROWS_PER_CHUNK` key tuples per chunk (1,000-20,000) as
  exact text, and its quantiles are the boundaries. Up to :data:`BLOCK_SAMPLE_FROM_ROWS` key rows
  the sample is ``SAMPLE (n ROWS)`` over the key columns (a scan of those columns, no sort);
  above, it draws from ``SAMPLE SYSTEM (p)`` (reads about ``p`` % of the micro-partitions,
  ``p`` chosen for ~:data:`BLOCK_SAMPLE_ROWS` rows), and falls back to the row sample once if
  the blocks came back too few. The sampled rows (not the table) are sorted by Snowflake, so the
  boundaries follow Snowflake's own order (collations, zoned timestamps).
* **NULL keys**: a NOT NULL key has none; otherwise ``COUNT(*) - COUNT(k)`` from the statistics
  (for a composite key the sum over its columns, an upper bound) sizes a last ``nulls`` chunk.

``APPROX_PERCENTILE`` (t-digest, one pass) was not used: it takes one numeric expression per
quantile, so dates, timestamps, text and composite keys would each need another path, and it
reads the whole key column where a block sample reads ~1 % of it. fakesnow runs every form above
(DuckDB's ``SYSTEM`` sample picks 2,048-row vectors, as Snowflake picks micro-partitions).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from snowpg.errors import ConfigError
from snowpg.model import Chunk, ChunkRange, SourceColumn, SourceTable
from snowpg.plan.chunking import (
    even_integer_cuts,
    is_dense,
    ranges_from_boundaries,
    sample_cuts,
    single_range_chunks,
    whole_table_chunk,
)
from snowpg.plan.sizing import ChunkRows, exact_rows
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

# Types snowpg picks on its own for a table without a primary key, in order of preference.
_AUTO_KEY_RANKS = (
    (frozenset(FIXED_TYPES), "number"),
    (frozenset(DATE_TYPES + TIMESTAMP_TYPES), "date/timestamp"),
    (frozenset(TEXT_TYPES), "text"),
)

WHOLE_TABLE = "whole-table"

SAMPLE_ROWS_PER_CHUNK = 50
SAMPLE_ROWS_MIN = 1_000
SAMPLE_ROWS_MAX = 20_000
BLOCK_SAMPLE_FROM_ROWS = 10_000_000  # key rows above which the sample reads blocks, not rows
BLOCK_SAMPLE_ROWS = 5_000_000  # rows the block sample aims to draw from
DENSE_FILL = 0.5


def _auto_rank(col: SourceColumn) -> tuple[int, int, int] | None:
    kind = base_type(col.data_type)
    for rank, (types, _label) in enumerate(_AUTO_KEY_RANKS):
        if kind in types:
            return (0 if not col.nullable else 1, rank, col.position)
    return None


def _rank_label(col: SourceColumn) -> str:
    kind = base_type(col.data_type)
    label = next(lbl for types, lbl in _AUTO_KEY_RANKS if kind in types)
    return f"first {'NOT NULL ' if not col.nullable else ''}{label} column"


def sample_rows_for(n_chunks: int) -> int:
    """How many key tuples to sample for ``n_chunks`` chunks. Pure."""
    return max(SAMPLE_ROWS_MIN, min(SAMPLE_ROWS_MAX, SAMPLE_ROWS_PER_CHUNK * n_chunks))


def block_percent_for(rows: int | None) -> float | None:
    """``SAMPLE SYSTEM`` percent for a table of ``rows`` rows; None: a row sample. Pure."""
    if rows is None or rows <= BLOCK_SAMPLE_FROM_ROWS:
        return None
    return max(0.001, min(100.0, 100.0 * BLOCK_SAMPLE_ROWS / rows))


def _has_filter(source_filter: str | None) -> bool:
    return bool(source_filter and source_filter.strip())


def choose_chunking_columns(
    table: SourceTable,
    configured: Sequence[str] | None,
    *,
    conn: Any = None,
    source_filter: str | None = None,
    size: ChunkRows | None = None,
) -> tuple[tuple[str, ...], str]:
    """The key columns to cut ``table`` by, and how they were chosen (see the module docstring).

    Only a table without a primary key that may need more than one chunk runs a query (with
    ``conn``); ``size`` tells whether the catalog row count fits one chunk.
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
    ranked = sorted(
        ((rank, c) for c in table.columns if (rank := _auto_rank(c)) is not None),
        key=lambda rc: rc[0],
    )
    candidates = [c for _rank, c in ranked]
    if not candidates:
        return (), WHOLE_TABLE
    one_chunk = (
        size is not None
        and not _has_filter(source_filter)
        and table.row_count is not None
        and size.chunk_count(table.row_count) <= 1
    )
    if one_chunk or conn is None:
        first = candidates[0]
        return (first.name,), f"range:{first.name} (no primary key; {_rank_label(first)})"
    names = [c.name for c in candidates]
    rows = None if _has_filter(source_filter) else table.row_count
    query, params = statements.sample_distinct_sql(
        table, names, source_filter, SAMPLE_ROWS_MAX, block_percent_for(rows)
    )
    row = reader.run_one(conn, query, params) or ()
    best, best_count = None, 1
    for name, count in zip(names, row[1:], strict=False):
        if count is not None and int(count) > best_count:
            best, best_count = name, int(count)
    if best is None:
        return (), WHOLE_TABLE
    return (best,), f"range:{best} (no primary key; most distinct column of a sample)"


def _key_columns(table: SourceTable, columns: Sequence[str]) -> list[SourceColumn]:
    check_columns_exist(table, columns, f"chunking columns of table {table.name}")
    out = []
    for name in columns:
        col = table.column(name)
        assert col is not None  # checked just above
        out.append(col)
    return out


def _is_integer_key(col: SourceColumn) -> bool:
    return base_type(col.data_type) in FIXED_TYPES and not (col.scale or 0)


def _one_chunk(cols: tuple[str, ...], types: tuple[str, ...], rows: int, nullable: bool) -> Chunk:
    if nullable or not cols:
        return whole_table_chunk(rows)
    return Chunk(chunk_id=1, range=ChunkRange(columns=cols, types=types), estimated_rows=rows)


def plan_chunks(
    conn: Any,
    table: SourceTable,
    chunking_columns: Sequence[str],
    source_filter: str | None,
    size: ChunkRows | int,
) -> tuple[list[Chunk], str]:
    """Chunks that together hold every row, sized by ``size`` (an int: rows per chunk), and the
    method's name. See the module docstring for the queries each case costs."""
    sized = exact_rows(size) if isinstance(size, int) else size
    if sized.rows < 1:
        raise ConfigError(
            f"batch_size of table {table.name} must be at least 1, got {sized.rows}",
            field="batch_size",
            table=table.qualified,
        )
    filtered = _has_filter(source_filter)
    catalog_rows = None if filtered else table.row_count
    if not chunking_columns:
        if catalog_rows is None:
            query, params = statements.count_sql(table, source_filter)
            catalog_rows = int(reader.run_scalar(conn, query, params) or 0)
        return [whole_table_chunk(catalog_rows)], WHOLE_TABLE

    key_cols = _key_columns(table, chunking_columns)
    columns = tuple(c.name for c in key_cols)
    types = tuple(c.sql_type for c in key_cols)
    nullable = any(c.nullable for c in key_cols)
    method = f"range:{','.join(columns)}"
    if catalog_rows is not None and sized.chunk_count(catalog_rows) <= 1:
        chunk = _one_chunk(columns, types, catalog_rows, nullable)
        return [chunk], method if chunk.range.columns else WHOLE_TABLE

    integer_key = len(key_cols) == 1 and _is_integer_key(key_cols[0])
    low = high = None
    if filtered or nullable or integer_key or catalog_rows is None:
        query, params = statements.key_stats_sql(table, columns, types, source_filter)
        row = reader.run_one(conn, query, params) or (0,) * (len(columns) + 3)
        total = int(row[0] or 0)
        null_rows = min(total, sum(total - int(v or 0) for v in row[1 : 1 + len(columns)]))
        low, high = row[-2], row[-1]
    else:
        total, null_rows = int(catalog_rows), 0
    key_rows = max(total - null_rows, 0)
    n_chunks = sized.chunk_count(key_rows)
    if n_chunks <= 1:
        chunks = single_range_chunks(columns, types, key_rows, null_rows)
        return chunks, method if chunks[0].range.columns else WHOLE_TABLE

    if integer_key and low is not None and high is not None:
        lo, hi = int(str(low)), int(str(high))
        if is_dense(key_rows, lo, hi, DENSE_FILL):
            bounds, counts = even_integer_cuts(lo, hi, n_chunks, key_rows)
            log.debug("%s: %d equal-width ranges over %d..%d", table.qualified, n_chunks, lo, hi)
            return ranges_from_boundaries(columns, types, bounds, counts, null_rows), method

    sample = _sample_keys(conn, table, columns, types, source_filter, key_rows, n_chunks)
    bounds, counts = sample_cuts(sample, n_chunks, key_rows)
    chunks = ranges_from_boundaries(columns, types, bounds, counts, null_rows)
    log.debug(
        "%s: %d key rows, %d NULL-key rows, %d sampled keys -> %d chunks",
        table.qualified,
        key_rows,
        null_rows,
        len(sample),
        len(chunks),
    )
    return chunks, method


def _sample_keys(
    conn: Any,
    table: SourceTable,
    columns: tuple[str, ...],
    types: tuple[str, ...],
    source_filter: str | None,
    key_rows: int,
    n_chunks: int,
) -> list[tuple[str, ...]]:
    """Sorted sampled key tuples as exact text: a block sample for a big table, and a row sample
    when that finds too few (a table in few micro-partitions can return none)."""
    want = sample_rows_for(n_chunks)
    block = block_percent_for(key_rows)
    query, params = statements.key_sample_sql(table, columns, types, source_filter, want, block)
    sample = [tuple(str(v) for v in r) for r in reader.run_all(conn, query, params)]
    if block is not None and len(sample) < min(want, 2 * n_chunks):
        log.info(
            "%s: the block sample found %d keys; sampling rows instead",
            table.qualified,
            len(sample),
        )
        query, params = statements.key_sample_sql(table, columns, types, source_filter, want)
        sample = [tuple(str(v) for v in r) for r in reader.run_all(conn, query, params)]
    return sample

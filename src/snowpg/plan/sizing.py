"""How many rows a chunk holds: ``batch_size``, capped by bytes for wide rows.

A chunk's memory in flight is proportional to its bytes, not its rows (docs/OPTIMIZATION.md), so
a table of 4 KB rows gets smaller chunks than one of 200-byte rows: rows per chunk =
``min(batch_size, max_chunk_mb / average row bytes)``. The average comes from the Arrow width of
each column's type, and for variable-width columns (text, VARIANT, binary) their text length over
a small sample of rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from snowpg.model import SourceColumn, SourceTable
from snowpg.snowflake import reader, statements
from snowpg.typefamilies import family

log = logging.getLogger("snowpg.plan")

SAMPLE_ROWS = 1_000
MIB = 1024 * 1024

# Arrow bytes a value takes, by type family (a NUMBER is 8 bytes as int64, 16 as decimal128).
_FIXED = {"float": 8, "bool": 1, "date": 4, "time": 8, "timestamp": 8}


@dataclass(frozen=True)
class ChunkRows:
    rows: int  # rows per chunk to plan with
    row_bytes: float | None  # the estimate it came from (None: not measured)
    capped: bool  # True when the byte cap, not batch_size, set ``rows``


def fixed_width(col: SourceColumn) -> int | None:
    """Arrow bytes of one value of ``col``, or None for variable-width types."""
    kind = family(col.data_type)
    if kind == "number":
        return 16 if (col.scale or 0) > 0 or (col.precision or 38) > 18 else 8
    return _FIXED.get(kind)


def chunk_rows(batch_size: int, row_bytes: float | None, max_chunk_mb: float) -> ChunkRows:
    """``batch_size``, or fewer rows when that many would exceed ``max_chunk_mb``. Pure."""
    if not row_bytes or row_bytes <= 0:
        return ChunkRows(batch_size, row_bytes, False)
    fits = max(1, int(max_chunk_mb * MIB // row_bytes))
    return ChunkRows(min(batch_size, fits), row_bytes, fits < batch_size)


def measure_row_bytes(
    conn: Any, table: SourceTable, columns: Sequence[str], source_filter: str | None
) -> float | None:
    """Average Arrow bytes of a row of ``columns``, from their types and a sample of rows."""
    fixed = 0
    variable = []
    for name in columns:
        col = table.column(name)
        if col is None:
            continue
        width = fixed_width(col)
        if width is None:
            variable.append(name)
        else:
            fixed += width + 1  # + the validity bit, rounded up
    if not variable:
        return float(fixed)
    query, params = statements.row_width_sql(table, variable, fixed, source_filter, SAMPLE_ROWS)
    value = reader.run_scalar(conn, query, params)
    return float(value) if value is not None else None


def plan_chunk_rows(
    conn: Any,
    table: SourceTable,
    columns: Sequence[str],
    source_filter: str | None,
    batch_size: int,
    max_chunk_mb: float,
) -> ChunkRows:
    """Rows per chunk for ``table`` (one small sampling query when it has variable columns)."""
    row_bytes = measure_row_bytes(conn, table, columns, source_filter)
    sized = chunk_rows(batch_size, row_bytes, max_chunk_mb)
    if sized.capped:
        log.info(
            "%s: rows average %.0f bytes, so chunks hold %d rows instead of batch_size %d "
            "(max_chunk_mb %s)",
            table.qualified,
            row_bytes,
            sized.rows,
            batch_size,
            max_chunk_mb,
        )
    return sized


# docs/OPTIMIZATION.md "Memory formula" quotes these four numbers (fitted as an upper bound to
# bench/memory.py and bench/run.py measurements with connector 5.2.0);
# tests/integration/test_memory_bound.py holds the doc and a measured peak to them.
BASE_RSS_MB = 145.0  # interpreter and imports of a production install
EXTRA_WORKERS = 2  # memory that does not shrink with fewer workers (one worker costs ~3 shares)
WORKER_MB = 8.0  # per share, whatever the chunk: encode slices, buffers, connections
PIECE_FACTOR = 10.0  # copies of the largest piece of a result the connector holds at once


def chunk_bytes(batch_size: int, row_bytes: float, max_chunk_mb: float) -> float:
    """A chunk's Arrow bytes: ``min(batch_size x row_bytes, max_chunk_mb MiB)``."""
    return min(batch_size * row_bytes, max_chunk_mb * MIB)


def peak_rss_bound_mb(
    parallel_threads: int,
    batch_size: int,
    row_bytes: float,
    max_chunk_mb: float,
    result_chunk_bytes: float | None = None,
) -> float:
    """The memory formula, in MB:
    ``BASE_RSS_MB + (threads + EXTRA_WORKERS) x (WORKER_MB + piece MB x PIECE_FACTOR)``.

    The piece is the chunk, or the service's result chunk when smaller (the reader decodes a
    downloaded result batch by batch); ``None`` means the whole result arrives in one piece, the
    worst case and fakesnow's way.
    """
    piece = chunk_bytes(batch_size, row_bytes, max_chunk_mb)
    if result_chunk_bytes is not None:
        piece = min(piece, result_chunk_bytes)
    shares = parallel_threads + EXTRA_WORKERS
    return BASE_RSS_MB + shares * (WORKER_MB + piece / 1e6 * PIECE_FACTOR)

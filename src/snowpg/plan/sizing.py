"""How many rows a chunk holds: sized for Snowflake's per-query cost, not for memory.

A chunk is one Snowflake query. Each query pays compilation and queueing (0.1-1 s) and reads at
least the micro-partitions (50-500 MB uncompressed each) that its key range touches, so chunks are
sized in bytes (docs/OPTIMIZATION.md, "Chunk size"):

* ``batch_size`` unset (the default): a chunk holds up to ``max_chunk_mb`` MiB of Arrow data
  (default :data:`DEFAULT_CHUNK_MB`), and a table is cut into at least
  :data:`CHUNKS_PER_THREAD` x ``parallel_threads`` chunks while they stay at least
  :data:`MIN_SPLIT_MB` MiB, so every worker has chunks to overlap;
* ``batch_size`` set (globally or per table, the existing tool's way): chunks of that many rows,
  capped by ``max_chunk_mb`` for wide rows — exactly what the setting always meant.

Memory does not follow the chunk: the reader hands over a result batch at a time and the writer
encodes slices of 8,192 rows (docs/OPTIMIZATION.md, "Memory formula").

The average row comes from the Arrow width of each column's type, and for variable-width columns
(text, VARIANT, binary) their text length over a small ``LIMIT`` sample of rows — measured only
when the table is big enough for the answer to matter.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from snowpg.model import SourceColumn, SourceTable
from snowpg.snowflake import reader, statements
from snowpg.typefamilies import family

log = logging.getLogger("snowpg.plan")

SAMPLE_ROWS = 1_000
MIB = 1024 * 1024
DEFAULT_CHUNK_MB = 128.0  # Settings.max_chunk_mb's default; docs/OPTIMIZATION.md explains it
MIN_SPLIT_MB = 16.0  # a table is split across workers only into chunks at least this big
# Chunks per worker a table is split into (while they stay >= MIN_SPLIT_MB), so the last wave of
# chunks does not leave workers idle and one worker's Snowflake wait overlaps others' COPY.
CHUNKS_PER_THREAD = 4
# Bytes assumed for a variable-width column when deciding, without a query, that a table
# surely fits one chunk (an over-estimate for typical text; a wrong guess only merges chunks).
VARIABLE_GUESS_BYTES = 4_096
# Rows per delete-check chunk when batch_size is unset (plan/watermark.py).
KEY_CHUNK_ROWS = 20_000

# Arrow bytes a value takes, by type family (a NUMBER is 8 bytes as int64, 16 as decimal128).
_FIXED = {"float": 8, "bool": 1, "date": 4, "time": 8, "timestamp": 8}


@dataclass(frozen=True)
class ChunkRows:
    rows: int  # most rows a chunk holds
    row_bytes: float | None  # the estimate it came from (None: not measured)
    capped: bool  # True when the byte cap, not an explicit batch_size, set ``rows``
    threads: int = 1  # workers to give chunks to (default sizing only)
    split_rows: int = 0  # rows a chunk keeps at least when split for the workers; 0: no split

    def chunk_count(self, rows: int) -> int:
        """Chunks to cut ``rows`` rows into (at least 1)."""
        if rows <= 0:
            return 1
        n = math.ceil(rows / self.rows)
        if self.split_rows > 0:
            n = max(n, min(CHUNKS_PER_THREAD * self.threads, rows // self.split_rows))
        return max(n, 1)


def exact_rows(rows: int) -> ChunkRows:
    """Chunks of ``rows`` rows, no byte cap or split (an explicit row count)."""
    return ChunkRows(rows, None, False)


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


def byte_sized_rows(row_bytes: float, max_chunk_mb: float, threads: int) -> ChunkRows:
    """The default sizing: ``max_chunk_mb`` MiB per chunk, split for ``threads`` workers into
    chunks of no less than :data:`MIN_SPLIT_MB`. Pure."""
    width = max(row_bytes, 1.0)
    rows = max(1, int(max_chunk_mb * MIB // width))
    split = max(1, int(min(MIN_SPLIT_MB, max_chunk_mb) * MIB // width))
    return ChunkRows(rows, row_bytes, False, threads=max(threads, 1), split_rows=split)


def _widths(table: SourceTable, columns: Sequence[str]) -> tuple[int, list[SourceColumn]]:
    """The fixed-width columns' Arrow bytes a row (each + 1 for its validity bit, rounded up),
    and the variable-width columns; names the table does not have are left out."""
    fixed = 0
    variable = []
    for name in columns:
        col = table.column(name)
        if col is None:
            continue
        width = fixed_width(col)
        if width is None:
            variable.append(col)
        else:
            fixed += width + 1
    return fixed, variable


def guessed_row_bytes(table: SourceTable, columns: Sequence[str]) -> float:
    """An upper-ish estimate of a row's Arrow bytes from the catalog alone: fixed widths, and for
    variable-width columns their declared length up to :data:`VARIABLE_GUESS_BYTES`. Pure."""
    fixed, variable = _widths(table, columns)
    guessed = 0
    for col in variable:
        declared = col.length if col.length and col.length > 0 else VARIABLE_GUESS_BYTES
        guessed += min(declared, VARIABLE_GUESS_BYTES) + 4 + 1  # + offset, + validity bit
    return float(fixed + guessed)


def measure_row_bytes(
    conn: Any, table: SourceTable, columns: Sequence[str], source_filter: str | None
) -> float | None:
    """Average Arrow bytes of a row of ``columns``, from their types and a sample of rows."""
    fixed, variable = _widths(table, columns)
    if not variable:
        return float(fixed)
    names = [c.name for c in variable]
    query, params = statements.row_width_sql(table, names, fixed, source_filter, SAMPLE_ROWS)
    value = reader.run_scalar(conn, query, params)
    return float(value) if value is not None else None


def _fits_one_chunk_unmeasured(
    table: SourceTable,
    columns: Sequence[str],
    source_filter: str | None,
    batch_size: int | None,
    max_chunk_mb: float,
    threads: int,
) -> bool:
    """True when the catalog alone shows the table is one chunk: no filter, a known row count,
    and one chunk at the guessed (generous) row width."""
    rows = table.row_count
    if rows is None or (source_filter and source_filter.strip()):
        return False
    if batch_size is not None:
        return rows <= batch_size and rows * guessed_row_bytes(table, columns) <= max_chunk_mb * MIB
    return (
        byte_sized_rows(guessed_row_bytes(table, columns), max_chunk_mb, threads).chunk_count(rows)
        <= 1
    )


def plan_chunk_rows(
    conn: Any,
    table: SourceTable,
    columns: Sequence[str],
    source_filter: str | None,
    batch_size: int | None,
    max_chunk_mb: float,
    threads: int = 1,
) -> ChunkRows:
    """Rows per chunk for ``table`` (see the module docstring). No query when the catalog shows
    the table fits one chunk; else one small ``LIMIT`` sample when it has variable columns."""
    if _fits_one_chunk_unmeasured(table, columns, source_filter, batch_size, max_chunk_mb, threads):
        guess = guessed_row_bytes(table, columns)
        if batch_size is not None:
            return ChunkRows(batch_size, None, False)
        return byte_sized_rows(guess, max_chunk_mb, threads)
    row_bytes = measure_row_bytes(conn, table, columns, source_filter)
    if batch_size is None:
        return byte_sized_rows(
            row_bytes or guessed_row_bytes(table, columns), max_chunk_mb, threads
        )
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

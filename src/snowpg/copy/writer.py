"""Stream Arrow batches into one ``COPY ... FROM STDIN`` on a caller's psycopg cursor.

The writer neither commits nor rolls back: the caller commits the chunk's rows together with its
status row. If a batch cannot be encoded (``DataError``) or PostgreSQL rejects the data, psycopg
aborts the COPY on the way out and the error propagates unchanged; the caller's transaction is
then failed and must be rolled back (the worker translates ``psycopg.Error`` itself).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from snowpg.copy.encode import encode_batch, parse_nul_policy

# Largest single write into the COPY. psycopg sends each write as CopyData messages; bounding it
# keeps libpq's send buffer (a copy of what we hand it) from doubling a big batch's memory.
MAX_WRITE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class CopyResult:
    """What one COPY wrote: rows, bytes of COPY input, and NUL-cleaned values per column."""

    rows: int
    bytes: int
    nul_fixed: dict[str, int] = field(default_factory=dict)


def write_batches(
    cursor: psycopg.Cursor[Any],
    statement: sql.Composable,
    batches: Iterable[pa.Table | pa.RecordBatch],
    *,
    nul_policy: str = "fail",
    json_columns: Collection[str] = (),
    on_progress: Callable[[int, int], None] | None = None,
) -> CopyResult:
    """Encode each batch and write it into ``statement`` (``COPY ... FROM STDIN (FORMAT csv)``).

    Batches without rows are skipped. ``on_progress(rows, bytes)`` runs after each written batch.
    """
    parse_nul_policy(nul_policy)  # a wrong setting fails before the COPY starts
    rows = 0
    written = 0
    fixed: dict[str, int] = {}
    query = (
        statement if isinstance(statement, sql.SQL | sql.Composed) else sql.Composed([statement])
    )
    with cursor.copy(query) as copy:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            encoded = encode_batch(batch, nul_policy=nul_policy, json_columns=json_columns)
            view = memoryview(encoded.data)
            for start in range(0, len(view), MAX_WRITE_BYTES):
                copy.write(view[start : start + MAX_WRITE_BYTES])
            rows += encoded.rows
            written += len(view)
            for column, count in encoded.nul_fixed.items():
                fixed[column] = fixed.get(column, 0) + count
            if on_progress is not None:
                on_progress(encoded.rows, len(view))
    return CopyResult(rows=rows, bytes=written, nul_fixed=fixed)

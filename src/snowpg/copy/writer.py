"""Stream Arrow batches into one ``COPY ... FROM STDIN`` on a caller's psycopg cursor.

The writer neither commits nor rolls back: the caller commits the chunk's rows together with its
status row. If a batch cannot be encoded (``DataError``) or PostgreSQL rejects the data, psycopg
aborts the COPY on the way out and the error propagates unchanged; the caller's transaction is
then failed and must be rolled back (the worker translates ``psycopg.Error`` itself).

Pipelining: a helper thread pulls the batches (for a Snowflake chunk: the fetch and the Arrow
decode happen there) and encodes them in slices of at most ``SLICE_ROWS`` rows, handing each
encoded slice to the COPY through a queue of ``QUEUE_SLICES``. Reading and encoding the next
slice therefore overlap with sending the current one (Arrow compute and socket writes release
the GIL), and the encoded data in flight is bounded by ``(QUEUE_SLICES + 2) x SLICE_ROWS`` rows
whatever the batch size. The COPY itself stays on the caller's thread, connection and
transaction.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from snowpg.copy.binary import SIGNATURE, TRAILER, encode_binary_batch
from snowpg.copy.binary_plan import CopyEncoding, Kind
from snowpg.copy.encode import EncodedBatch, encode_batch
from snowpg.model import parse_nul_policy

# Largest single write into the COPY. psycopg sends each write as CopyData messages; bounding it
# keeps libpq's send buffer (a copy of what we hand it) from doubling a big batch's memory.
MAX_WRITE_BYTES = 8 * 1024 * 1024
# Rows encoded at once. Measured on the benchmark schema (binary encoder): CPU per row is the same
# from 8k to 64k rows per slice and 20% higher at 4k; an encoded slice is ~0.3 KB a row (binary)
# or ~0.5 KB (CSV, with its text columns), so smaller slices keep less in flight per worker.
SLICE_ROWS = 8_192
# Encoded slices waiting for the COPY; 2 keeps the encoder busy while a write is in progress.
QUEUE_SLICES = 2
# How often a blocked producer checks whether the COPY side has given up.
_PUT_POLL_S = 0.1


@dataclass(frozen=True)
class CopyResult:
    """What one COPY wrote: rows, bytes of COPY input, and NUL-cleaned values per column."""

    rows: int
    bytes: int
    nul_fixed: dict[str, int] = field(default_factory=dict)


class _Done:
    """End of the slices."""


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_Item = EncodedBatch | _Done | _Failed


def _slices(batches: Iterable[pa.Table | pa.RecordBatch]) -> Iterator[pa.Table | pa.RecordBatch]:
    for batch in batches:
        if batch.num_rows <= SLICE_ROWS:
            if batch.num_rows:
                yield batch
        else:
            for start in range(0, batch.num_rows, SLICE_ROWS):
                yield batch.slice(start, SLICE_ROWS)
        del batch  # see _Producer._run


class _Producer:
    """Reads and encodes on a helper thread; the COPY thread takes encoded slices from ``get``."""

    def __init__(
        self,
        batches: Iterable[pa.Table | pa.RecordBatch],
        encode: Callable[[pa.Table | pa.RecordBatch], EncodedBatch],
    ) -> None:
        self._batches = batches
        self._encode = encode
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=QUEUE_SLICES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snowpg-encode", daemon=True)
        self._thread.start()

    def _put(self, item: _Item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_PUT_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for piece in _slices(self._batches):
                encoded = self._encode(piece)
                # No reference to this batch (a slice keeps its batch alive) while the next one
                # is downloaded and decoded: one result piece per worker in memory, not two.
                del piece
                if not self._put(encoded):
                    return
                del encoded
            self._put(_Done())
        except BaseException as exc:  # handed to the COPY thread, which re-raises it
            self._put(_Failed(exc))
        finally:
            close = getattr(self._batches, "close", None)
            if close is not None:  # a generator: closes the Snowflake cursor on its own thread
                with contextlib.suppress(Exception):  # closing a read cursor loses nothing
                    close()

    def __iter__(self) -> Iterator[EncodedBatch]:
        while True:
            item = self._queue.get()
            if isinstance(item, _Done):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def stop(self) -> None:
        """Make the producer give up (if it has not finished) and wait for it."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):  # unblock a producer on a full queue
                self._queue.get(timeout=_PUT_POLL_S)
            self._thread.join(timeout=_PUT_POLL_S)


def write_batches(
    cursor: psycopg.Cursor[Any],
    statement: sql.Composable,
    batches: Iterable[pa.Table | pa.RecordBatch],
    *,
    nul_policy: str = "fail",
    json_columns: Collection[str] = (),
    on_progress: Callable[[int, int], None] | None = None,
    encoding: CopyEncoding = CopyEncoding.CSV,
    binary_kinds: Sequence[Kind] = (),
) -> CopyResult:
    """Encode each batch and write it into ``statement``.

    The statement's ``FORMAT`` must be ``encoding``'s. ``CopyEncoding.BINARY`` needs
    ``binary_kinds``, one encoder per column (:func:`snowpg.copy.binary_plan.plan_kinds`); CSV
    ignores them. Batches without rows are skipped. ``on_progress(rows, bytes)`` runs after each
    written slice (a batch of more than ``SLICE_ROWS`` rows is written in several slices).
    """
    parse_nul_policy(nul_policy)  # a wrong setting fails before the COPY starts
    binary = encoding is CopyEncoding.BINARY
    rows = 0
    written = 0
    fixed: dict[str, int] = {}
    query = (
        statement if isinstance(statement, sql.SQL | sql.Composed) else sql.Composed([statement])
    )

    def encode(piece: pa.Table | pa.RecordBatch) -> EncodedBatch:
        if binary:
            return encode_binary_batch(
                piece, binary_kinds, nul_policy=nul_policy, json_columns=json_columns
            )
        return encode_batch(piece, nul_policy=nul_policy, json_columns=json_columns)

    with cursor.copy(query) as copy:
        producer = _Producer(batches, encode)
        try:
            if binary:  # psycopg adds neither in block mode
                copy.write(SIGNATURE)
            for encoded in producer:
                view = memoryview(encoded.data)
                for start in range(0, len(view), MAX_WRITE_BYTES):
                    copy.write(view[start : start + MAX_WRITE_BYTES])
                rows += encoded.rows
                written += len(view)
                for column, count in encoded.nul_fixed.items():
                    fixed[column] = fixed.get(column, 0) + count
                if on_progress is not None:
                    on_progress(encoded.rows, len(view))
                del view, encoded
            if binary:
                copy.write(TRAILER)
        finally:
            producer.stop()
    return CopyResult(rows=rows, bytes=written, nul_fixed=fixed)

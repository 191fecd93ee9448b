"""The pipelined writer: slicing, overlap thread, errors from either side, bounded hand-off."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from snowpg.copy import writer
from snowpg.copy.writer import write_batches
from snowpg.errors import DataError


def _stmt(table: str) -> sql.Composed:
    return sql.SQL("COPY {} (n, s) FROM STDIN (FORMAT csv)").format(sql.Identifier(table))


def _setup(conn: psycopg.Connection[tuple[object, ...]], table: str) -> None:
    conn.execute(sql.SQL("CREATE TABLE {} (n bigint, s text)").format(sql.Identifier(table)))


def test_big_batches_are_sliced_and_all_rows_arrive_in_order(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "SLICE_ROWS", 1000)
    batches = [
        pa.table({"n": pa.array(range(lo, lo + size)), "s": [f"v{i}" for i in range(size)]})
        for lo, size in ((0, 2500), (2500, 0), (2500, 999), (3499, 1001))
    ]
    seen: list[int] = []
    with psycopg.connect(pg_dsn) as conn:
        _setup(conn, "sliced")
        with conn.cursor() as cur:
            result = write_batches(
                cur, _stmt("sliced"), iter(batches), on_progress=lambda r, b: seen.append(r)
            )
        conn.commit()
        got = [r[0] for r in conn.execute("SELECT n FROM sliced ORDER BY n")]
    assert result.rows == 4500 and got == list(range(4500))
    assert seen == [1000, 1000, 500, 999, 1000, 1]


def test_source_error_mid_stream_aborts_copy_and_closes_the_source(pg_dsn: str) -> None:
    closed: list[bool] = []

    def source() -> Iterator[pa.Table]:
        try:
            yield pa.table({"n": [1, 2], "s": ["a", "b"]})
            raise OSError("connection reset while fetching")
        finally:
            closed.append(True)

    with psycopg.connect(pg_dsn) as conn:
        _setup(conn, "srcfail")
        conn.commit()
        with conn.cursor() as cur, pytest.raises(OSError, match="connection reset"):
            write_batches(cur, _stmt("srcfail"), source())
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM srcfail").fetchone() == (0,)
    assert closed == [True]


def test_copy_error_propagates_and_the_reader_is_closed(pg_dsn: str) -> None:
    # "x" is not a bigint: PostgreSQL fails the COPY (reported when the COPY ends); the error
    # reaches the caller unchanged and the reading thread is finished and its source closed.
    pulled: list[int] = []
    closed: list[bool] = []

    def source() -> Iterator[pa.Table]:
        try:
            for i in range(50):
                pulled.append(i)
                yield pa.table({"n": ["x"], "s": ["a"]})
        finally:
            closed.append(True)

    with psycopg.connect(pg_dsn) as conn:
        _setup(conn, "pgfail")
        with conn.cursor() as cur, pytest.raises(psycopg.errors.InvalidTextRepresentation):
            write_batches(cur, _stmt("pgfail"), source())
        conn.rollback()
    assert closed == [True]
    assert pulled  # it did read before the failure surfaced


def test_encoding_error_reaches_the_caller_as_data_error(pg_dsn: str) -> None:
    batches = [pa.table({"n": [1], "s": ["ok"]}), pa.table({"n": [2], "s": ["bad\x00"]})]
    with psycopg.connect(pg_dsn) as conn:
        _setup(conn, "encfail")
        with conn.cursor() as cur, pytest.raises(DataError, match='column "s"'):
            write_batches(cur, _stmt("encfail"), batches)
        conn.rollback()

"""Rows per chunk (bytes by default, an explicit batch_size as rows) and the planning queries each
case costs, counted on a recording connection. Pure: no server."""

from __future__ import annotations

import re
from typing import Any

import pytest

from snowpg.model import SourceColumn, SourceTable
from snowpg.plan import boundaries
from snowpg.plan.sizing import (
    MIB,
    MIN_SPLIT_MB,
    ChunkRows,
    byte_sized_rows,
    chunk_rows,
    fixed_width,
    guessed_row_bytes,
    plan_chunk_rows,
)
from snowpg.snowflake.statements import row_width_sql


def test_narrow_rows_keep_batch_size_and_wide_rows_are_capped() -> None:
    assert chunk_rows(25_000, 250.0, 8).rows == 25_000
    assert not chunk_rows(25_000, 250.0, 8).capped
    wide = chunk_rows(25_000, 4_096.0, 8)
    assert wide.capped and wide.rows == 8 * MIB // 4_096 == 2_048
    assert chunk_rows(25_000, 50 * MIB, 8).rows == 1  # one huge row still makes a chunk
    assert chunk_rows(25_000, 0.0, 8).rows == 25_000  # an empty sample: no estimate
    assert chunk_rows(25_000, None, 8).rows == 25_000


def test_byte_sized_chunks_and_the_split_for_workers() -> None:
    sized = byte_sized_rows(256.0, 128, 4)
    assert sized.rows == 128 * MIB // 256 == 524_288
    assert sized.split_rows == MIN_SPLIT_MB * MIB // 256 == 65_536
    assert sized.chunk_count(1_000) == 1  # small: one chunk, whatever the threads
    assert sized.chunk_count(100_000) == 1  # 24 MiB: one 16 MiB-or-more chunk per worker is 1
    assert sized.chunk_count(200_000) == 3  # 49 MiB: three chunks of >= 16 MiB
    assert sized.chunk_count(2_000_000) == 16  # 488 MiB: four by bytes, 4 per worker for 4
    assert sized.chunk_count(20_000_000) == 39  # 4.8 GiB: by bytes
    assert sized.chunk_count(10**9) == 1908  # 1B rows of 256 B: 1,908 queries, not 50,000
    assert sized.chunk_count(0) == 1
    one_thread = byte_sized_rows(256.0, 128, 1)
    assert one_thread.chunk_count(500_000) == 4  # 122 MiB: 4 per worker, >= 16 MiB each
    # An explicit row count never splits.
    assert ChunkRows(1000, None, False).chunk_count(12_345) == 13


def test_fixed_widths_follow_arrow() -> None:
    assert fixed_width(SourceColumn("A", "NUMBER", 18, 0)) == 8
    assert fixed_width(SourceColumn("A", "NUMBER", 38, 0)) == 16
    assert fixed_width(SourceColumn("A", "NUMBER", 12, 2)) == 16
    assert fixed_width(SourceColumn("A", "TIMESTAMP_TZ")) == 8
    assert fixed_width(SourceColumn("A", "BOOLEAN")) == 1
    for variable in ("TEXT", "VARIANT", "BINARY", "GEOGRAPHY"):
        assert fixed_width(SourceColumn("A", variable)) is None


def test_guessed_width_uses_declared_lengths_up_to_a_cap() -> None:
    table = SourceTable(
        "DB",
        "S",
        "T",
        (
            SourceColumn("ID", "NUMBER", 38, 0),
            SourceColumn("CODE", "TEXT", length=10),
            SourceColumn("BODY", "TEXT", length=16_777_216),
            SourceColumn("DOC", "VARIANT"),
        ),
    )
    assert guessed_row_bytes(table, ["ID", "CODE"]) == 17 + 15
    assert guessed_row_bytes(table, ["BODY", "DOC"]) == 2 * (4_096 + 5)


def test_row_width_query_samples_variable_columns_under_the_filter() -> None:
    table = SourceTable("DB", "S", "T", (SourceColumn("Doc Body", "VARIANT"),))
    query, params = row_width_sql(table, ["Doc Body"], 17, "region = 'EU' AND x LIKE 'a%'", 1000)
    assert params == {}
    assert query == (
        'SELECT AVG(17 + COALESCE(LENGTH(TO_VARCHAR("Doc Body")), 0) + 4) FROM '
        '(SELECT "Doc Body" FROM "DB"."S"."T" WHERE (region = \'EU\' AND x LIKE \'a%%\') '
        "AND (TRUE) LIMIT 1000) AS SAMPLED"
    )


def test_memory_bound_uses_the_smaller_of_chunk_and_result_chunk() -> None:
    from snowpg.plan.sizing import BASE_RSS_MB, PIECE_FACTOR, WORKER_MB, peak_rss_bound_mb

    inline = peak_rss_bound_mb(4, 20_000, 250.0, 8)  # 5 MB chunks, one piece each
    assert inline == BASE_RSS_MB + 6 * (WORKER_MB + 5.0 * PIECE_FACTOR)
    assert peak_rss_bound_mb(4, 20_000, 250.0, 8, 1e6) == BASE_RSS_MB + 6 * (
        WORKER_MB + PIECE_FACTOR
    )
    assert peak_rss_bound_mb(4, 20_000, 250.0, 8, 64e6) == inline  # result chunk > chunk
    capped = peak_rss_bound_mb(1, 10**6, 250.0, 8)  # max_chunk_mb caps the piece at 8 MiB
    assert capped == BASE_RSS_MB + 3 * (WORKER_MB + 8 * MIB / 1e6 * PIECE_FACTOR)


# --- the planning queries, counted -----------------------------------------------------------


class _Cursor:
    def __init__(self, conn: RecordingConn) -> None:
        self.conn = conn
        self.rows: list[tuple[Any, ...]] = []
        self.description: list[tuple[str]] = []

    def execute(self, sql: str, params: Any = None) -> None:
        text = sql % {k: repr(v) for k, v in (params or {}).items()} if params else sql
        self.conn.queries.append(text)
        self.rows = self.conn.answer(text)

    def get_result_batches(self) -> None:
        return None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def close(self) -> None:
        pass


class RecordingConn:
    """Answers the planning statements from a key list, and records every query."""

    def __init__(self, keys: list[int], nulls: int = 0) -> None:
        self.keys = sorted(keys)
        self.nulls = nulls
        self.queries: list[str] = []

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    def answer(self, sql: str) -> list[tuple[Any, ...]]:
        if sql.startswith("SELECT AVG("):
            return [(40.0,)]
        if " ROWS) ORDER BY " in sql:
            n = int(re.search(r"SAMPLE \((\d+) ROWS\)", sql).group(1))  # type: ignore[union-attr]
            step = max(1, len(self.keys) // n)
            return [(str(k),) for k in self.keys[::step]]
        if sql.startswith("SELECT COUNT(*), COUNT("):
            total = len(self.keys) + self.nulls
            return [(total, len(self.keys), str(self.keys[0]), str(self.keys[-1]))]
        raise AssertionError(f"unexpected query {sql}")


def _table(rows: int | None, nullable: bool = False, key_type: str = "NUMBER") -> SourceTable:
    key = SourceColumn("ID", key_type, 38 if key_type == "NUMBER" else None, 0, nullable=nullable)
    body = SourceColumn("BODY", "TEXT", length=20)
    return SourceTable("DB", "S", "T", (key, body), primary_key=("ID",), row_count=rows)


def _plan(
    conn: RecordingConn, table: SourceTable, batch_size: int | None, source_filter: str | None
) -> tuple[list[Any], str]:
    size = plan_chunk_rows(conn, table, ["ID", "BODY"], source_filter, batch_size, 128, 4)
    cols, _how = boundaries.choose_chunking_columns(table, None, conn=conn, size=size)
    return boundaries.plan_chunks(conn, table, cols, source_filter, size)


def test_a_small_table_costs_no_query() -> None:
    conn = RecordingConn(list(range(1000)))
    chunks, method = _plan(conn, _table(1000), None, None)
    assert conn.queries == []
    assert method == "range:ID" and len(chunks) == 1
    assert chunks[0].range.columns == ("ID",) and chunks[0].range.lower is None
    # Nullable key: one whole-table chunk, so the NULL keys are in it; still no query.
    chunks, method = _plan(conn, _table(1000, nullable=True), None, None)
    assert conn.queries == [] and method == "whole-table" and chunks[0].range.columns == ()
    # An explicit batch_size the table fits in: no query either.
    _plan(conn, _table(1000), 1000, None)
    assert conn.queries == []


def test_a_dense_integer_key_is_cut_from_metadata_alone() -> None:
    conn = RecordingConn(list(range(1, 3_000_001)))
    chunks, _ = _plan(conn, _table(3_000_000), None, None)
    assert [q.split(" FROM ")[0] for q in conn.queries] == [
        'SELECT AVG(17 + COALESCE(LENGTH(TO_VARCHAR("BODY")), 0) + 4)',
        'SELECT COUNT(*), COUNT("ID"), TO_VARCHAR(MIN("ID")), TO_VARCHAR(MAX("ID"))',
    ]
    assert len(chunks) == 7  # 3M x 40 B = 114 MiB: one chunk by bytes, split into 7 of 16 MiB
    assert chunks[1].range.lower == (str(1 + 3_000_000 // 7),)
    assert sum(c.estimated_rows for c in chunks) == 3_000_000


def test_a_sparse_key_is_cut_from_a_sample_and_never_sorted() -> None:
    conn = RecordingConn([k * k for k in range(100_000)], nulls=7)
    chunks, _ = _plan(conn, _table(100_007, nullable=True), 10_000, None)
    assert len(conn.queries) == 3  # width sample, key statistics, key sample
    sample_query = conn.queries[-1]
    assert " SAMPLE (1000 ROWS) ORDER BY " in sample_query and "SYSTEM" not in sample_query
    assert chunks[-1].range.nulls and chunks[-1].estimated_rows == 7
    assert len(chunks) == 11
    for q in conn.queries:
        assert "NTILE" not in q and "OVER (" not in q and "APPROX_COUNT_DISTINCT" not in q
        assert "ORDER BY" not in q or " ROWS) ORDER BY " in q


def test_a_big_table_samples_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(boundaries, "BLOCK_SAMPLE_FROM_ROWS", 50_000)
    monkeypatch.setattr(boundaries, "BLOCK_SAMPLE_ROWS", 10_000)
    conn = RecordingConn([k * 3 for k in range(100_000)])
    _plan(conn, _table(100_000, key_type="TEXT"), 10_000, None)
    assert "SAMPLE SYSTEM (10) WHERE" in conn.queries[-1]
    assert boundaries.block_percent_for(10**9) == 100 * 10_000 / 10**9
    assert boundaries.block_percent_for(None) is None


def test_a_filter_always_counts() -> None:
    conn = RecordingConn(list(range(500)))
    chunks, method = _plan(conn, _table(1000), None, "ID < 500")
    assert method == "range:ID" and len(chunks) == 1
    assert [q.split(" FROM ")[0][:22] for q in conn.queries] == [
        "SELECT AVG(17 + COALES",
        "SELECT COUNT(*), COUNT",
    ]

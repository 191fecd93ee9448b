"""Rows per chunk: batch_size, capped by bytes for wide rows. Pure."""

from __future__ import annotations

from snowpg.model import SourceColumn, SourceTable
from snowpg.plan.sizing import MIB, chunk_rows, fixed_width
from snowpg.snowflake.statements import row_width_sql


def test_narrow_rows_keep_batch_size_and_wide_rows_are_capped() -> None:
    assert chunk_rows(25_000, 250.0, 8).rows == 25_000
    assert not chunk_rows(25_000, 250.0, 8).capped
    wide = chunk_rows(25_000, 4_096.0, 8)
    assert wide.capped and wide.rows == 8 * MIB // 4_096 == 2_048
    assert chunk_rows(25_000, 50 * MIB, 8).rows == 1  # one huge row still makes a chunk
    assert chunk_rows(25_000, 0.0, 8).rows == 25_000  # an empty sample: no estimate
    assert chunk_rows(25_000, None, 8).rows == 25_000


def test_fixed_widths_follow_arrow() -> None:
    assert fixed_width(SourceColumn("A", "NUMBER", 18, 0)) == 8
    assert fixed_width(SourceColumn("A", "NUMBER", 38, 0)) == 16
    assert fixed_width(SourceColumn("A", "NUMBER", 12, 2)) == 16
    assert fixed_width(SourceColumn("A", "TIMESTAMP_TZ")) == 8
    assert fixed_width(SourceColumn("A", "BOOLEAN")) == 1
    for variable in ("TEXT", "VARIANT", "BINARY", "GEOGRAPHY"):
        assert fixed_width(SourceColumn("A", variable)) is None


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

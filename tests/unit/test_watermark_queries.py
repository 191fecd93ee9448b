"""The high-water mark queries, written apart from the planner that runs them."""

from __future__ import annotations

from snowpg.model import SourceColumn, SourceTable
from snowpg.postgres.watermarks import max_watermark_query
from snowpg.snowflake.watermarks import high_watermark_query
from snowpg.status.watermarks import RECORDED_HIGH


def test_the_source_high_is_the_max_of_the_filtered_rows() -> None:
    src = SourceTable("DB", "S", "T", (SourceColumn("Updated At", "TIMESTAMP_NTZ"),))
    query = high_watermark_query(src, "Updated At", "region = 'EU'")
    assert query.startswith("SELECT ")
    assert 'MAX("Updated At")' in query
    assert "region = 'EU'" in query
    assert '"DB"."S"."T"' in query
    assert "WHERE (TRUE)" in high_watermark_query(src, "Updated At", None)


def test_the_target_max_is_text_snowflake_casts_back() -> None:
    def text(pg_type: str) -> str:
        return max_watermark_query("s", "t", "w", pg_type).as_string(None)

    assert text("timestamp with time zone") == (
        'SELECT to_char(max("w") AT TIME ZONE \'UTC\', \'YYYY-MM-DD HH24:MI:SS.US\') FROM "s"."t"'
    )
    assert text("timestamp without time zone") == (
        'SELECT to_char(max("w"), \'YYYY-MM-DD HH24:MI:SS.US\') FROM "s"."t"'
    )
    assert text("date") == 'SELECT to_char(max("w"), \'YYYY-MM-DD\') FROM "s"."t"'
    assert text("bigint") == 'SELECT max("w")::text FROM "s"."t"'


def test_the_recorded_high_is_the_last_completed_run_of_the_same_column() -> None:
    assert "status = 'completed'" in RECORDED_HIGH
    assert "'watermark_column' = %s" in RECORDED_HIGH
    assert "ORDER BY completed_at DESC" in RECORDED_HIGH

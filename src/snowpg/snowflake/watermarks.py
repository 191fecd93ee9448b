"""The source's high-water mark: the largest watermark of a table, as exact text.

The text is what Snowflake itself produces (``source.sql.key_text_expr``), so casting it back
(``CAST('<text>' AS <bound type>)``) gives the same value, to the nanosecond.
"""

# ruff: noqa: S608 - identifiers go through source.sql (quoted); the filter is the configured
# source_filter, which is SQL by definition.
from __future__ import annotations

from typing import Any

from snowpg.model import SourceTable
from snowpg.snowflake import reader, statements


def high_watermark_query(src: SourceTable, column: str, source_filter: str | None) -> str:
    """``SELECT`` of the largest ``column`` among the rows ``source_filter`` selects, as text."""
    col = src.column(column)
    assert col is not None
    expr = f"MAX({statements.key_expr(column, col.sql_type)})"
    text = statements.key_text_expr(expr, col.sql_type)
    where = statements.where_clause(source_filter, "TRUE")
    return f"SELECT {text} FROM {statements.table_ref(src)} {where}"


def high_watermark(sf: Any, src: SourceTable, column: str, source_filter: str | None) -> str | None:
    """The largest watermark in the source (exact text), or None when there is none."""
    value = reader.run_scalar(sf, high_watermark_query(src, column, source_filter), {})
    return None if value is None else str(value)

"""Snowflake SQL text for reading: identifier quoting, chunk predicates and the planning queries.

Pure: nothing here opens a connection. Every statement is returned with its parameters in the
connector's default ``pyformat`` style (``%(p0)s``); the connector binds them client side and
escapes each value. Two consequences every caller relies on:

* a literal ``%`` in SQL text (e.g. in a user's ``source_filter``: ``LIKE 'a%'``) is written ``%%``;
* these statements must always go through pyformat interpolation, even when the parameter dict is
  empty — :mod:`snowpg.snowflake.reader` takes care of that.

Snowflake lacks row-value comparison (``(a, b) >= (x, y)``), so key-tuple bounds are expanded into
the equivalent lexicographic ``OR``/``AND`` form. Bound values are text, cast back to the key's
type in SQL, so no precision is lost on the way through JSON.
"""

# ruff: noqa: S608 - composing SQL text is this module's job: identifiers go through quote_ident,
# values through bound parameters, types through check_sql_type.
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from snowpg.errors import ConfigError
from snowpg.model import ChunkRange, Snapshot, SourceTable
from snowpg.sqltext import filter_problem
from snowpg.typefamilies import family, is_zoned_timestamp

# A Snowflake type name as it may appear in CAST(... AS <type>); checked because chunk ranges are
# read back from the status table and the type is spliced into SQL text.
_SQL_TYPE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?$")

# Explicit formats so boundary text is exact whatever the session's *_OUTPUT_FORMAT says (the
# default timestamp output format stops at milliseconds).
_TIMESTAMP_TEXT_FORMAT = "YYYY-MM-DD HH24:MI:SS.FF9"
_DATE_TEXT_FORMAT = "YYYY-MM-DD"
_TIME_TEXT_FORMAT = "HH24:MI:SS.FF9"


def quote_ident(name: str) -> str:
    """``name`` as a quoted Snowflake identifier for a pyformat statement.

    Always double-quoted with inner ``"`` doubled, so the exact case and spelling are kept
    (``Payer Id`` and ``PAYER_ID`` stay distinct) and no name can end the identifier early. A ``%``
    is doubled too, because every statement built here goes through pyformat interpolation.
    """
    if not name:
        raise ValueError("empty Snowflake identifier")
    return '"' + escape_percent(name.replace('"', '""')) + '"'


def qualified(database: str, schema: str, table: str) -> str:
    return f"{quote_ident(database)}.{quote_ident(schema)}.{quote_ident(table)}"


def table_ref(table: SourceTable) -> str:
    """The table in a FROM clause: at the run's Time Travel point when it has one."""
    ref = qualified(table.database, table.schema, table.name)
    if table.snapshot is None:
        return ref
    return f"{ref} {at_clause(table.snapshot)}"


def at_clause(snapshot: Snapshot) -> str:
    """``AT(TIMESTAMP => ...)`` at ``snapshot``; the explicit offset makes it mean UTC whatever
    the session's TIMEZONE (an uncast or NTZ timestamp there is read in the session's zone)."""
    return f"AT(TIMESTAMP => '{snapshot.timestamp} +0000'::TIMESTAMP_LTZ)"


def snapshot_point_sql() -> str:
    """Snowflake's clock now, in UTC, as :class:`~snowpg.model.Snapshot` text."""
    return (
        "SELECT TO_VARCHAR(CAST(CONVERT_TIMEZONE('UTC', CURRENT_TIMESTAMP()) AS TIMESTAMP_NTZ),"
        f" '{_TIMESTAMP_TEXT_FORMAT}') AS SNAPSHOT_AT"
    )


def escape_percent(sql_text: str) -> str:
    """Trusted SQL text (a ``source_filter``) made safe for pyformat interpolation."""
    return sql_text.replace("%", "%%")


def check_sql_type(sql_type: str) -> str:
    if not _SQL_TYPE_RE.match(sql_type):
        raise ValueError(f"not a Snowflake type name: {sql_type!r}")
    return sql_type


def key_expr(column: str, sql_type: str) -> str:
    """The expression a key column is ordered and compared by.

    TIMESTAMP_TZ/LTZ keys compare as UTC wall-clock TIMESTAMP_NTZ: their text form would carry an
    offset, and text with an offset does not cast back everywhere (fakesnow rejects it).
    """
    ident = quote_ident(column)
    if is_zoned_timestamp(sql_type):
        return f"CAST(CONVERT_TIMEZONE('UTC', {ident}) AS TIMESTAMP_NTZ)"
    return ident


def bound_type(sql_type: str) -> str:
    """The type a bound's text is cast to, matching :func:`key_expr`."""
    check_sql_type(sql_type)
    if is_zoned_timestamp(sql_type):
        return "TIMESTAMP_NTZ"
    return sql_type


def key_text_expr(expr: str, sql_type: str) -> str:
    """``expr`` (a key expression) as exact text that casts back to :func:`bound_type`."""
    kind = family(sql_type)
    if kind == "timestamp":
        return f"TO_VARCHAR({expr}, '{_TIMESTAMP_TEXT_FORMAT}')"
    if kind == "date":
        return f"TO_VARCHAR({expr}, '{_DATE_TEXT_FORMAT}')"
    if kind == "time":
        return f"TO_VARCHAR({expr}, '{_TIME_TEXT_FORMAT}')"
    return f"TO_VARCHAR({expr})"


def _lexicographic(exprs: Sequence[str], values: Sequence[str], strict: str, last: str) -> str:
    """``(e1, e2, ...) <last> (v1, v2, ...)`` without row values, e.g. for ``>=``:
    ``(e1 > v1 OR (e1 = v1 AND e2 >= v2))``."""
    acc = f"{exprs[-1]} {last} {values[-1]}"
    for e, v in zip(reversed(exprs[:-1]), reversed(values[:-1]), strict=True):
        acc = f"({e} {strict} {v} OR ({e} = {v} AND {acc}))"
    return acc if len(exprs) > 1 else f"({acc})"


def chunk_predicate(r: ChunkRange, *, prefix: str = "p") -> tuple[str, dict[str, Any]]:
    """A WHERE fragment selecting exactly the rows of chunk ``r``, and its parameters.

    The chunks built from one set of boundaries partition a table: non-null keys fall in exactly
    one ``[lower, upper)`` range; rows with a NULL in any key column only in the ``nulls`` chunk.
    ``prefix`` names the parameters (``p0``, ``p1``...), so several predicates can share a query.
    """
    if not r.columns:
        return "TRUE", {}
    if len(r.types) != len(r.columns):
        raise ValueError(f"chunk range has {len(r.columns)} columns but {len(r.types)} types")
    exprs = [key_expr(c, t) for c, t in zip(r.columns, r.types, strict=True)]
    if r.nulls:
        return "(" + " OR ".join(f"{e} IS NULL" for e in exprs) + ")", {}

    params: dict[str, Any] = {}

    def casts(bound: Sequence[str]) -> list[str]:
        if len(bound) != len(r.columns):
            raise ValueError(f"chunk bound {list(bound)} does not match columns {list(r.columns)}")
        out = []
        for value, sql_type in zip(bound, r.types, strict=True):
            name = f"{prefix}{len(params)}"
            params[name] = value
            out.append(f"CAST(%({name})s AS {bound_type(sql_type)})")
        return out

    parts = [f"{e} IS NOT NULL" for e in exprs]
    if r.lower is not None:
        parts.append(_lexicographic(exprs, casts(r.lower), ">", ">="))
    if r.upper is not None:
        parts.append(_lexicographic(exprs, casts(r.upper), "<", "<"))
    return " AND ".join(parts), params


def where_clause(source_filter: str | None, predicate: str) -> str:
    """``WHERE (<source_filter>) AND (<predicate>)``; the filter is configuration SQL, checked
    (:func:`snowpg.sqltext.filter_problem`) so that it cannot reach outside its parentheses."""
    if source_filter and source_filter.strip():
        problem = filter_problem(source_filter)
        if problem is not None:
            raise ConfigError(f"source_filter {source_filter!r} cannot be used: {problem}")
        return f"WHERE ({escape_percent(source_filter)}) AND ({predicate})"
    return f"WHERE ({predicate})"


def select_chunk_sql(
    table: SourceTable, columns: Sequence[str], source_filter: str | None, r: ChunkRange
) -> tuple[str, dict[str, Any]]:
    """The query reading one chunk's rows, and its parameters."""
    if not columns:
        raise ValueError(f"no columns to read from {table.qualified}")
    predicate, params = chunk_predicate(r)
    cols = ", ".join(quote_ident(c) for c in columns)
    return f"SELECT {cols} FROM {table_ref(table)} {where_clause(source_filter, predicate)}", params


def count_sql(
    table: SourceTable, source_filter: str | None, r: ChunkRange | None = None
) -> tuple[str, dict[str, Any]]:
    """``SELECT COUNT(*)`` of the table (or of one chunk) under the source filter."""
    predicate, params = chunk_predicate(r) if r is not None else ("TRUE", {})
    where = where_clause(source_filter, predicate)
    return f"SELECT COUNT(*) FROM {table_ref(table)} {where}", params


def key_count_sql(
    table: SourceTable, columns: Sequence[str], types: Sequence[str], source_filter: str | None
) -> tuple[str, dict[str, Any]]:
    """Rows with a complete key and rows with a NULL in any key column, in one scan."""
    exprs = [key_expr(c, t) for c, t in zip(columns, types, strict=True)]
    any_null = " OR ".join(f"{e} IS NULL" for e in exprs)
    sql_text = (
        f"SELECT COUNT_IF(NOT ({any_null})) AS key_rows, COUNT_IF({any_null}) AS null_rows"
        f" FROM {table_ref(table)} {where_clause(source_filter, 'TRUE')}"
    )
    return sql_text, {}


def boundary_sql(
    table: SourceTable,
    columns: Sequence[str],
    types: Sequence[str],
    source_filter: str | None,
    n_buckets: int,
) -> tuple[str, dict[str, Any]]:
    """First key tuple (as exact text) and row count of each of ``n_buckets`` equal-sized buckets.

    The buckets come from ``NTILE`` over the key order, computed in Snowflake: one row per bucket
    travels back, never the key column itself. ``QUALIFY ROW_NUMBER() = 1`` picks each bucket's
    first row, which works for any number of key columns (``MIN`` would not for tuples). Columns:
    ``bucket, k0, k1, ..., bucket_rows``; ordered by bucket.
    """
    if n_buckets < 1:
        raise ValueError("n_buckets must be at least 1")
    exprs = [key_expr(c, t) for c, t in zip(columns, types, strict=True)]
    aliases = [f"k{i}" for i in range(len(exprs))]
    inner_cols = ", ".join(f"{e} AS {a}" for e, a in zip(exprs, aliases, strict=True))
    not_null = " AND ".join(f"{e} IS NOT NULL" for e in exprs)
    order = ", ".join(aliases)
    texts = ", ".join(f"{key_text_expr(a, t)} AS {a}" for a, t in zip(aliases, types, strict=True))
    sql_text = (
        f"SELECT bucket, {texts}, COUNT(*) OVER (PARTITION BY bucket) AS bucket_rows"
        f" FROM (SELECT NTILE({int(n_buckets)}) OVER (ORDER BY {', '.join(exprs)}) AS bucket,"
        f" {inner_cols} FROM {table_ref(table)} {where_clause(source_filter, not_null)})"
        f" QUALIFY ROW_NUMBER() OVER (PARTITION BY bucket ORDER BY {order}) = 1"
        " ORDER BY bucket"
    )
    return sql_text, {}


def distinct_counts_sql(
    table: SourceTable, columns: Sequence[str], source_filter: str | None
) -> tuple[str, dict[str, Any]]:
    """One row: ``APPROX_COUNT_DISTINCT`` of each column (HyperLogLog; cheap on any size)."""
    counts = ", ".join(f"APPROX_COUNT_DISTINCT({quote_ident(c)})" for c in columns)
    return f"SELECT {counts} FROM {table_ref(table)} {where_clause(source_filter, 'TRUE')}", {}


def row_width_sql(
    table: SourceTable,
    variable_columns: Sequence[str],
    fixed_bytes: int,
    source_filter: str | None,
    sample_rows: int,
) -> tuple[str, dict[str, Any]]:
    """Average bytes of a row over the first ``sample_rows`` rows: ``fixed_bytes`` plus each
    variable-width column's text length and a 4-byte offset. ``LIMIT`` without ``ORDER BY`` lets
    Snowflake stop after the first micro-partitions, so this costs about one small query."""
    parts = [str(fixed_bytes)] + [
        f"COALESCE(LENGTH(TO_VARCHAR({quote_ident(c)})), 0) + 4" for c in variable_columns
    ]
    cols = ", ".join(quote_ident(c) for c in variable_columns) or "1 AS ONE"
    inner = (
        f"SELECT {cols} FROM {table_ref(table)} {where_clause(source_filter, 'TRUE')} "
        f"LIMIT {int(sample_rows)}"
    )
    return f"SELECT AVG({' + '.join(parts)}) FROM ({inner}) AS SAMPLED", {}

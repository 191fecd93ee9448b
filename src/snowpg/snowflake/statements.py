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
    """The expression a key column is ordered and compared by: the raw column, whatever its type.

    Snowflake prunes micro-partitions by each partition's min/max of the *raw column*, so a range
    predicate on ``CONVERT_TIMEZONE(...)`` of a key would read every partition. TIMESTAMP_TZ/LTZ
    keys compare as instants; their bounds are UTC wall-clock text (:func:`key_text_expr`) cast
    to the column's own type, which means UTC because every session pins ``TIMEZONE`` to UTC
    (:data:`snowpg.snowflake.session.SESSION_PARAMETERS`).
    """
    del sql_type  # every type compares raw; kept so callers need not know that
    return quote_ident(column)


def bound_type(sql_type: str) -> str:
    """The type a bound's text is cast to: the key column's own type (see :func:`key_expr`)."""
    return check_sql_type(sql_type)


def key_text_expr(expr: str, sql_type: str) -> str:
    """``expr`` (a key value) as exact text that casts back to :func:`bound_type`.

    Zoned timestamps become UTC wall-clock text without an offset (fakesnow rejects some offset
    forms, and PostgreSQL compares the same text as ``timestamp`` at UTC in verification).
    """
    kind = family(sql_type)
    if kind == "timestamp":
        if is_zoned_timestamp(sql_type):
            expr = f"CAST(CONVERT_TIMEZONE('UTC', {expr}) AS TIMESTAMP_NTZ)"
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
    Every comparison is on a raw column (:func:`key_expr`), so Snowflake can prune; a composite
    key's range also bounds its leading column on its own (``"A" >= lo0 AND "A" <= hi0``), which
    the lexicographic chain implies but a pruner cannot see through the ``OR``.
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
    chains = []
    if r.lower is not None:
        low = casts(r.lower)
        if len(exprs) > 1:  # the OR chain prunes nothing; a plain range on the lead column does
            parts.append(f"{exprs[0]} >= {low[0]}")
        chains.append(_lexicographic(exprs, low, ">", ">="))
    if r.upper is not None:
        high = casts(r.upper)
        if len(exprs) > 1:
            parts.append(f"{exprs[0]} <= {high[0]}")
        chains.append(_lexicographic(exprs, high, "<", "<"))
    return " AND ".join(parts + chains), params


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


def _sampled_from(
    table: SourceTable, columns: Sequence[str], where: str, block_percent: float | None
) -> str:
    """``SELECT <columns> FROM <table> [SAMPLE SYSTEM (p)] <where>``: the rows a sample draws
    from. Block sampling reads about ``p`` % of the micro-partitions; without it the inner query
    reads the columns of every row (a scan, never a sort)."""
    block = ""
    if block_percent is not None:
        if not 0 < block_percent <= 100:
            raise ValueError(f"block sample percent must be in (0, 100], got {block_percent}")
        block = f" SAMPLE SYSTEM ({block_percent:.6g})"
    cols = ", ".join(f"{quote_ident(c)} AS {_sample_alias(i)}" for i, c in enumerate(columns))
    return f"SELECT {cols} FROM {table_ref(table)}{block} {where}"


def _sample_alias(i: int) -> str:
    return f'"snowpg_k{i}"'


def key_stats_sql(
    table: SourceTable, columns: Sequence[str], types: Sequence[str], source_filter: str | None
) -> tuple[str, dict[str, Any]]:
    """One row: ``COUNT(*)``, ``COUNT(k)`` of each key column, and the leading column's
    ``MIN``/``MAX`` as exact text. Without a filter Snowflake answers every one of these from
    micro-partition metadata (no warehouse scan); with one it scans what the filter leaves."""
    if not columns:
        raise ValueError("key_stats_sql needs at least one key column")
    lead, lead_type = quote_ident(columns[0]), types[0]
    counts = ", ".join(f"COUNT({quote_ident(c)})" for c in columns)
    extremes = (
        f"{key_text_expr(f'MIN({lead})', lead_type)}, {key_text_expr(f'MAX({lead})', lead_type)}"
    )
    sql_text = (
        f"SELECT COUNT(*), {counts}, {extremes}"
        f" FROM {table_ref(table)} {where_clause(source_filter, 'TRUE')}"
    )
    return sql_text, {}


def key_sample_sql(
    table: SourceTable,
    columns: Sequence[str],
    types: Sequence[str],
    source_filter: str | None,
    sample_rows: int,
    block_percent: float | None = None,
) -> tuple[str, dict[str, Any]]:
    """About ``sample_rows`` complete key tuples drawn at random (``SAMPLE (n ROWS)``, optionally
    from a ``SAMPLE SYSTEM (p)`` block sample), as exact text in Snowflake's key order.

    The ``ORDER BY`` sorts the sampled rows only (at most ``sample_rows``), never the table: the
    order must be Snowflake's own (collations, zoned timestamps), because chunk predicates compare
    in it. Columns: ``t0, t1, ...``.
    """
    if sample_rows < 1:
        raise ValueError("sample_rows must be at least 1")
    not_null = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in columns)
    inner = _sampled_from(table, columns, where_clause(source_filter, not_null), block_percent)
    texts = ", ".join(f"{key_text_expr(_sample_alias(i), t)} AS t{i}" for i, t in enumerate(types))
    order = ", ".join(_sample_alias(i) for i in range(len(columns)))
    sql_text = f"SELECT {texts} FROM ({inner}) SAMPLE ({int(sample_rows)} ROWS) ORDER BY {order}"
    return sql_text, {}


def sample_distinct_sql(
    table: SourceTable,
    columns: Sequence[str],
    source_filter: str | None,
    sample_rows: int,
    block_percent: float | None = None,
) -> tuple[str, dict[str, Any]]:
    """One row: the sample's size and ``COUNT(DISTINCT c)`` of each column over about
    ``sample_rows`` sampled rows (a hash aggregate of a few thousand rows, not of the table)."""
    if sample_rows < 1:
        raise ValueError("sample_rows must be at least 1")
    inner = _sampled_from(table, columns, where_clause(source_filter, "TRUE"), block_percent)
    counts = ", ".join(f"COUNT(DISTINCT {_sample_alias(i)})" for i in range(len(columns)))
    return f"SELECT COUNT(*), {counts} FROM ({inner}) SAMPLE ({int(sample_rows)} ROWS)", {}


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

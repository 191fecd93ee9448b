"""The PostgreSQL side of verification: canonical values and the checksum queries of chunks. Pure.

The twin of every query of :mod:`snowpg.snowflake.checksums`. It selects a chunk's rows with the
same ``chunk_range`` the copy used, compared in the same order Snowflake used: text keys
``COLLATE "C"`` (code point order, as Snowflake compares strings without a collation),
timestamps with a zone as UTC wall-clock time.
"""

# Identifiers go through sql.Identifier; bound values are passed as parameters.
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from snowpg.checksum_spec import (
    STRIP,
    ChecksumSpec,
    VerifyColumn,
    contiguous_split,
    float_template,
    json_positions,
    sql_positions,
)
from snowpg.errors import ConfigError
from snowpg.model import ChunkRange

# Categories whose order PostgreSQL and Snowflake agree on, and the type a bound's text is cast to.
_PG_BOUND_TYPES = {
    "number": "numeric",
    "float": "double precision",
    "text": "text",
    "boolean": "boolean",
    "date": "date",
    "time": "time",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",  # compared as UTC wall-clock time, like source.sql.key_expr
}

_TS_PG = "CAST(CAST(EXTRACT(EPOCH FROM {c}) * 1000000 AS bigint) AS text)"

# The templates per category ({c}: the quoted column), the twins of source.checksums' _SF.
_PG: dict[str, str] = {
    "number": STRIP.format(t="CAST(CAST({c} AS numeric) AS text)"),
    "float": float_template(
        "log(ABS(CAST({c} AS double precision)))", "CAST({x} AS text)", "numeric(38,0)"
    ),
    "text": "CAST({c} AS text)",
    "boolean": "CASE WHEN {c} THEN 't' WHEN NOT {c} THEN 'f' END",
    "date": "to_char({c}, 'YYYY-MM-DD')",
    "time": _TS_PG,
    "timestamp": _TS_PG,
    "timestamptz": _TS_PG,
    "binary": "encode({c}, 'hex')",
    "other": "CASE WHEN {c} IS NULL THEN NULL ELSE 'j' END",
}
_PG["json"] = _PG["other"]

# A value computed once per row, in the first inner query, where a template refers to it more
# than once: a number's text (STRIP trims it in six places). The second inner query applies the
# rest of the template to it (_PG_FINISH).
_PG_BASE = {"number": "CAST(CAST({c} AS numeric) AS text)"}
_PG_FINISH = {**_PG, "number": STRIP.format(t="{c}")}


def pg_value(col: VerifyColumn) -> sql.Composable:
    return sql.SQL(_PG[col.category]).format(c=sql.Identifier(col.target))


def pg_text(values: Sequence[sql.Composable]) -> sql.Composable:
    """:func:`snowpg.snowflake.checksums.sf_text` for PostgreSQL."""
    if not values:
        return sql.SQL("''")
    parts = [
        sql.SQL("COALESCE(CAST(length({v}) AS text) || ':' || {v}, 'N')").format(v=v)
        for v in values
    ]
    return sql.SQL(" || '|' || ").join(parts)


def pg_row_text(columns: Sequence[VerifyColumn]) -> sql.Composable:
    return pg_text([pg_value(c) for c in columns])


def pg_row_hash(row_text: sql.Composable) -> sql.Composable:
    """The 60-bit hash of ``row_text`` (bigint): the value Snowflake's
    :data:`snowpg.snowflake.checksums.SF_HASH_OF_H` gives for ``h = MD5(row_text)``."""
    return sql.SQL("CAST(CAST('x' || substr(md5({t}), 1, 15) AS bit(60)) AS bigint)").format(
        t=row_text
    )


def _pg_key(col: VerifyColumn) -> tuple[sql.Composable, sql.Composable]:
    """The expression a key column is compared by, and the cast applied to a bound value."""
    cat = col.category
    bound_type = _PG_BOUND_TYPES.get(cat)
    if bound_type is None:
        raise ConfigError(
            f"chunking column {col.source} has type {col.data_type}, which verification cannot "
            "range over in PostgreSQL",
            column=col.source,
        )
    ident = sql.Identifier(col.target)
    if cat == "text":
        return sql.SQL('({} COLLATE "C")').format(ident), sql.SQL('CAST(%s AS text) COLLATE "C"')
    if cat == "timestamptz":
        return sql.SQL("({} AT TIME ZONE 'UTC')").format(ident), sql.SQL("CAST(%s AS timestamp)")
    return ident, sql.SQL("CAST(%s AS {})").format(sql.SQL(bound_type))


def pg_window(
    col: VerifyColumn, low: str | None, high: str | None
) -> tuple[sql.Composable | None, list[Any]]:
    """The PostgreSQL twin of ``plan.watermark.window_predicate``: ``low < W <= high`` on the
    target column the watermark was loaded into (None: every row)."""
    expr, cast = _pg_key(col)
    parts: list[sql.Composable] = []
    params: list[Any] = []
    if low is not None:
        parts.append(sql.SQL("{} > {}").format(expr, cast))
        params.append(low)
    if high is not None:
        parts.append(sql.SQL("{} <= {}").format(expr, cast))
        params.append(high)
    elif low is not None:
        parts.append(sql.SQL("FALSE"))
    return (sql.SQL(" AND ").join(parts) if parts else None), params


def pg_chunk_where(spec: ChecksumSpec, r: ChunkRange) -> tuple[sql.Composable, list[Any]]:
    """A WHERE condition selecting the chunk's rows in the target, and its parameters."""
    where, params = _pg_range(spec, r)
    if spec.target_filter is None:
        return where, params
    return (
        sql.SQL("({}) AND ({})").format(spec.target_filter, where),
        [*spec.target_params, *params],
    )


def _pg_range(spec: ChecksumSpec, r: ChunkRange) -> tuple[sql.Composable, list[Any]]:
    if not r.columns:
        return sql.SQL("TRUE"), []
    keys = [_pg_key(c) for c in spec.key_columns(r)]
    exprs = [k for k, _b in keys]
    if r.nulls:
        return sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(e) for e in exprs), []
    parts: list[sql.Composable] = [sql.SQL("{} IS NOT NULL").format(e) for e in exprs]
    params: list[Any] = []
    row = sql.SQL("ROW({})").format(sql.SQL(", ").join(exprs))
    for bound, op in ((r.lower, ">="), (r.upper, "<")):
        if bound is None:
            continue
        casts = sql.SQL(", ").join(b for _e, b in keys)
        parts.append(sql.SQL("{} {} ROW({})").format(row, sql.SQL(op), casts))
        params.extend(bound)
    return sql.SQL(" AND ").join(parts), params


def _pg_inner(
    spec: ChecksumSpec, where: sql.Composable, group: sql.Composable | None
) -> sql.Composed:
    """The rows' canonical values ``v0``, ``v1``... (and raw JSON ``j0``...; the chunk id ``g``).

    Two inner queries, each fenced with ``OFFSET 0``, which keeps PostgreSQL from pulling them
    up into the query around them: pulled up, every reference to a value re-evaluates its whole
    expression (the row text uses each value twice, ``STRIP`` a number's text six times), so
    each canonical value and the chunk id are computed once per row.
    """
    cats = [c.category for c in spec.columns]
    base: list[sql.Composable] = [
        sql.SQL("{} AS {}").format(
            sql.SQL(_PG_BASE.get(cat, "{c}")).format(c=sql.Identifier(c.target)),
            sql.Identifier(f"b{i}"),
        )
        for i, (c, cat) in enumerate(zip(spec.columns, cats, strict=True))
    ]
    values: list[sql.Composable] = [
        sql.SQL("{} AS {}").format(
            sql.SQL(_PG_FINISH[cat]).format(c=sql.Identifier(f"b{i}")), sql.Identifier(f"v{i}")
        )
        for i, cat in enumerate(cats)
    ]
    values += [sql.SQL("{0} AS {0}").format(sql.Identifier(f"j{i}")) for i in json_positions(spec)]
    base += [
        sql.SQL("CAST({} AS text) AS {}").format(
            sql.Identifier(spec.columns[i].target), sql.Identifier(f"j{i}")
        )
        for i in json_positions(spec)
    ]
    if group is not None:
        base.insert(0, sql.SQL("{} AS g").format(group))
        values.insert(0, sql.SQL("g"))
    table = sql.Identifier(spec.target_schema, spec.target_table)
    first = sql.SQL("SELECT {} FROM {} WHERE {} OFFSET 0").format(
        sql.SQL(", ").join(base), table, where
    )
    return sql.SQL("SELECT {} FROM ({}) b OFFSET 0").format(sql.SQL(", ").join(values), first)


def _pg_vs(positions: Sequence[int]) -> list[sql.Composable]:
    return [sql.Identifier(f"v{i}") for i in positions]


def _pg_md5(spec: ChecksumSpec) -> sql.Composed:
    return sql.SQL("md5({})").format(pg_text(_pg_vs(sql_positions(spec))))


def _pg_hash(spec: ChecksumSpec) -> sql.Composable:
    return pg_row_hash(pg_text(_pg_vs(sql_positions(spec))))


def pg_checksum(spec: ChecksumSpec, r: ChunkRange) -> tuple[sql.Composed, list[Any]]:
    """``chunk id (0), rows, checksum`` of one chunk in PostgreSQL."""
    return pg_checksums(spec, [(0, r)])


def pg_checksums(
    spec: ChecksumSpec, chunks: Sequence[tuple[int, ChunkRange]]
) -> tuple[sql.Composed, list[Any]]:
    """``chunk_id, rows, checksum`` of several chunks in one scan of the target table."""
    group, group_params, selected, where_params = _pg_group(spec, chunks)
    inner = _pg_inner(spec, selected, group)
    query = sql.SQL("SELECT g, count(*), sum({}) FROM ({}) s GROUP BY g").format(
        _pg_hash(spec), inner
    )
    return query, group_params + where_params


def _pg_group(
    spec: ChecksumSpec, chunks: Sequence[tuple[int, ChunkRange]]
) -> tuple[sql.Composable, list[Any], sql.Composable, list[Any]]:
    """The twin of ``source.checksums._sf_group``: the chunk id expression and the WHERE
    condition of a group, each with its parameters (positional, in text order)."""
    split = contiguous_split(chunks)
    if split is None:
        whens: list[sql.Composable] = []
        anys: list[sql.Composable] = []
        case_params: list[Any] = []
        any_params: list[Any] = []
        for chunk_id, r in chunks:
            where, p = pg_chunk_where(spec, r)
            whens.append(sql.SQL("WHEN {} THEN {}").format(where, sql.Literal(int(chunk_id))))
            anys.append(sql.SQL("({})").format(where))
            case_params.extend(p)
            any_params.extend(p)
        linear = sql.SQL("CASE {} END").format(sql.SQL(" ").join(whens))
        return linear, case_params, sql.SQL(" OR ").join(anys), any_params
    ranges, nulls = split
    first = ranges[0][1]
    params: list[Any] = []

    def search(lo: int, hi: int) -> sql.Composable:
        if lo == hi:
            return sql.Literal(int(ranges[lo][0]))
        mid = (lo + hi + 1) // 2
        cond, p = _pg_range(spec, ChunkRange(first.columns, first.types, ranges[mid][1].lower))
        params.extend(p)
        right = search(mid, hi)
        left = search(lo, mid - 1)
        return sql.SQL("CASE WHEN {} THEN {} ELSE {} END").format(cond, right, left)

    whens = []
    for chunk_id, r in nulls:
        cond, p = _pg_range(spec, r)
        params.extend(p)
        whens.append(sql.SQL("WHEN {} THEN {}").format(cond, sql.Literal(int(chunk_id))))
    found = search(0, len(ranges) - 1)
    group: sql.Composable = (
        sql.SQL("CASE {} ELSE {} END").format(sql.SQL(" ").join(whens), found) if whens else found
    )
    span = ChunkRange(first.columns, first.types, first.lower, ranges[-1][1].upper)
    parts = [pg_chunk_where(spec, span), *(pg_chunk_where(spec, r) for _i, r in nulls)]
    selected = sql.SQL(" OR ").join(sql.SQL("({})").format(w) for w, _p in parts)
    return group, params, selected, [v for _w, p in parts for v in p]


def pg_rows(spec: ChecksumSpec, r: ChunkRange) -> tuple[sql.Composed, list[Any]]:
    """:func:`snowpg.snowflake.checksums.sf_rows` for PostgreSQL."""
    where, params = pg_chunk_where(spec, r)
    key = pg_text(_pg_vs(spec.key_indexes(r)))
    raw = [sql.Identifier(f"j{i}") for i in json_positions(spec)]
    cols = sql.SQL(", ").join([key, _pg_md5(spec), *raw])
    return sql.SQL("SELECT {} FROM ({}) s").format(cols, _pg_inner(spec, where, None)), params


def pg_row_hashes(spec: ChecksumSpec, r: ChunkRange) -> tuple[sql.Composed, list[Any]]:
    """``key text, row hash`` of every row of the chunk in PostgreSQL (no JSON columns)."""
    where, params = pg_chunk_where(spec, r)
    key = pg_text(_pg_vs(spec.key_indexes(r)))
    cols = sql.SQL(", ").join([key, _pg_hash(spec)])
    return sql.SQL("SELECT {} FROM ({}) s").format(cols, _pg_inner(spec, where, None)), params

"""The verification queries of one chunk, for Snowflake (text) and PostgreSQL (psycopg.sql). Pure.

Each chunk is compared with two queries per side: a checksum (row count and the sum of the rows'
hashes) and, only when those differ, the key and hash of every row of the chunk.

The PostgreSQL side selects a chunk's rows with the same ``chunk_range`` the copy used, compared
in the same order Snowflake used: text keys ``COLLATE "C"`` (code point order, as Snowflake
compares strings without a collation), timestamps with a zone as UTC wall-clock time.
"""

# ruff: noqa: S608 - SQL is composed here: identifiers quoted (quote_ident / sql.Identifier),
# bound values passed as parameters.
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from snowpg.errors import ConfigError
from snowpg.model import ChunkRange, SourceTable
from snowpg.source import sql as source_sql
from snowpg.source.sql import quote_ident
from snowpg.verify import canonical
from snowpg.verify.canonical import VerifyColumn

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


@dataclass(frozen=True)
class TableSpec:
    """What verification needs of one table: both names, the compared columns, and the filters
    that select the same rows on both sides (an incremental run's window: ``source_filter`` in
    Snowflake, ``target_filter`` with ``target_params`` in PostgreSQL)."""

    source: SourceTable
    source_filter: str | None
    target_schema: str
    target_table: str
    columns: tuple[VerifyColumn, ...]
    target_filter: sql.Composable | None = None
    target_params: tuple[Any, ...] = ()

    @property
    def has_json(self) -> bool:
        """Whether rows are hashed on the client (JSON values compared by content)."""
        return bool(canonical.json_columns(self.columns))

    def target_column(self, source_name: str) -> str:
        for c in self.columns:
            if c.source == source_name:
                return c.target
        raise ConfigError(
            f"chunking column {source_name} of table {self.source.qualified} is not loaded into "
            f"{self.target_schema}.{self.target_table}, so its chunks cannot be verified",
            table=self.source.qualified,
            column=source_name,
        )

    def key_columns(self, r: ChunkRange) -> list[VerifyColumn]:
        out = []
        for name, sql_type in zip(r.columns, r.types, strict=True):
            out.append(VerifyColumn(name, self.target_column(name), sql_type))
        return out

    def key_indexes(self, r: ChunkRange) -> list[int]:
        """Positions in ``columns`` of the chunk's key (every column when it has none)."""
        if not r.columns:
            return list(range(len(self.columns)))
        self.key_columns(r)  # refuses a key column that was not loaded
        names = [c.source for c in self.columns]
        return [names.index(k) for k in r.columns]


# Each query computes every column's canonical value once, in an inner query (``v0``, ``v1``...),
# and builds the row and key texts from those; JSON columns also travel raw (``j0``...) for the
# client. Real Snowflake has HASH_AGG, but the emulator does not: the sum of MD5 prefixes works
# on both.


def _v(i: int) -> str:
    return f'"v{i}"'


def _sql_positions(spec: TableSpec) -> list[int]:
    return [i for i, c in enumerate(spec.columns) if c.category != "json"]


def _json_positions(spec: TableSpec) -> list[int]:
    return [i for i, c in enumerate(spec.columns) if c.category == "json"]


# Snowflake ---------------------------------------------------------------------------------


def _sf_inner(spec: TableSpec, where: str, group: str | None = None) -> str:
    values = [f"{canonical.sf_value(c)} AS {_v(i)}" for i, c in enumerate(spec.columns)]
    values += [f'{quote_ident(spec.columns[i].source)} AS "j{i}"' for i in _json_positions(spec)]
    if group is not None:
        values.insert(0, f"{group} AS g")
    return f"SELECT {', '.join(values)} FROM {source_sql.table_ref(spec.source)} {where}"


def _sf_md5(spec: TableSpec) -> str:
    return f"MD5({canonical.sf_text([_v(i) for i in _sql_positions(spec)])})"


def sf_checksum(spec: TableSpec, r: ChunkRange) -> tuple[str, dict[str, Any]]:
    """``chunk id (0), rows, checksum`` of one chunk in Snowflake."""
    return sf_checksums(spec, [(0, r)])


def sf_checksums(
    spec: TableSpec, chunks: Sequence[tuple[int, ChunkRange]]
) -> tuple[str, dict[str, Any]]:
    """``chunk_id, rows, checksum`` of several chunks in one scan (chunks with no rows absent).
    Not for tables with JSON columns, whose rows are hashed on the client (:func:`sf_rows`)."""
    params: dict[str, Any] = {}
    whens, anys = [], []
    for chunk_id, r in chunks:
        predicate, p = source_sql.chunk_predicate(r, prefix=f"c{int(chunk_id)}_")
        params.update(p)
        whens.append(f"WHEN {predicate} THEN {int(chunk_id)}")
        anys.append(f"({predicate})")
    where = source_sql.where_clause(spec.source_filter, " OR ".join(anys))
    inner = _sf_inner(spec, where, group=f"CASE {' '.join(whens)} END")
    hashed = f"SELECT g, {_sf_md5(spec)} AS h FROM ({inner})"
    return f"SELECT g, COUNT(*), SUM({canonical.SF_HASH_OF_H}) FROM ({hashed}) GROUP BY g", params


def sf_rows(spec: TableSpec, r: ChunkRange) -> tuple[str, dict[str, Any]]:
    """``key text, MD5 hex of the SQL part, raw JSON values...`` of every row of the chunk."""
    predicate, params = source_sql.chunk_predicate(r)
    inner = _sf_inner(spec, source_sql.where_clause(spec.source_filter, predicate))
    key = canonical.sf_text([_v(i) for i in spec.key_indexes(r)])
    raw = "".join(f', "j{i}"' for i in _json_positions(spec))
    return f"SELECT {key} AS k, {_sf_md5(spec)} AS h{raw} FROM ({inner})", params


def sf_row_hashes(spec: TableSpec, r: ChunkRange) -> tuple[str, dict[str, Any]]:
    """``key text, row hash`` of every row of the chunk in Snowflake (no JSON columns)."""
    rows, params = sf_rows(spec, r)
    return f"SELECT k, {canonical.SF_HASH_OF_H} FROM ({rows})", params


# PostgreSQL --------------------------------------------------------------------------------


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


def pg_chunk_where(spec: TableSpec, r: ChunkRange) -> tuple[sql.Composable, list[Any]]:
    """A WHERE condition selecting the chunk's rows in the target, and its parameters."""
    where, params = _pg_range(spec, r)
    if spec.target_filter is None:
        return where, params
    return (
        sql.SQL("({}) AND ({})").format(spec.target_filter, where),
        [*spec.target_params, *params],
    )


def _pg_range(spec: TableSpec, r: ChunkRange) -> tuple[sql.Composable, list[Any]]:
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


def _pg_inner(spec: TableSpec, where: sql.Composable, group: sql.Composable | None) -> sql.Composed:
    values = [
        sql.SQL("{} AS {}").format(canonical.pg_value(c), sql.Identifier(f"v{i}"))
        for i, c in enumerate(spec.columns)
    ]
    values += [
        sql.SQL("CAST({} AS text) AS {}").format(
            sql.Identifier(spec.columns[i].target), sql.Identifier(f"j{i}")
        )
        for i in _json_positions(spec)
    ]
    if group is not None:
        values.insert(0, sql.SQL("{} AS g").format(group))
    table = sql.Identifier(spec.target_schema, spec.target_table)
    return sql.SQL("SELECT {} FROM {} WHERE {}").format(sql.SQL(", ").join(values), table, where)


def _pg_vs(positions: Sequence[int]) -> list[sql.Composable]:
    return [sql.Identifier(f"v{i}") for i in positions]


def _pg_md5(spec: TableSpec) -> sql.Composed:
    return sql.SQL("md5({})").format(canonical.pg_text(_pg_vs(_sql_positions(spec))))


def _pg_hash(spec: TableSpec) -> sql.Composable:
    return canonical.pg_row_hash(canonical.pg_text(_pg_vs(_sql_positions(spec))))


def pg_checksum(spec: TableSpec, r: ChunkRange) -> tuple[sql.Composed, list[Any]]:
    """``chunk id (0), rows, checksum`` of one chunk in PostgreSQL."""
    return pg_checksums(spec, [(0, r)])


def pg_checksums(
    spec: TableSpec, chunks: Sequence[tuple[int, ChunkRange]]
) -> tuple[sql.Composed, list[Any]]:
    """``chunk_id, rows, checksum`` of several chunks in one scan of the target table."""
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
    group = sql.SQL("CASE {} END").format(sql.SQL(" ").join(whens))
    inner = _pg_inner(spec, sql.SQL(" OR ").join(anys), group)
    query = sql.SQL("SELECT g, count(*), sum({}) FROM ({}) s GROUP BY g").format(
        _pg_hash(spec), inner
    )
    return query, case_params + any_params


def pg_rows(spec: TableSpec, r: ChunkRange) -> tuple[sql.Composed, list[Any]]:
    """:func:`sf_rows` for PostgreSQL."""
    where, params = pg_chunk_where(spec, r)
    key = canonical.pg_text(_pg_vs(spec.key_indexes(r)))
    raw = [sql.Identifier(f"j{i}") for i in _json_positions(spec)]
    cols = sql.SQL(", ").join([key, _pg_md5(spec), *raw])
    return sql.SQL("SELECT {} FROM ({}) s").format(cols, _pg_inner(spec, where, None)), params


def pg_row_hashes(spec: TableSpec, r: ChunkRange) -> tuple[sql.Composed, list[Any]]:
    """``key text, row hash`` of every row of the chunk in PostgreSQL (no JSON columns)."""
    where, params = pg_chunk_where(spec, r)
    key = canonical.pg_text(_pg_vs(spec.key_indexes(r)))
    cols = sql.SQL(", ").join([key, _pg_hash(spec)])
    return sql.SQL("SELECT {} FROM ({}) s").format(cols, _pg_inner(spec, where, None)), params


def key_display(key_text: str, names: Sequence[str]) -> str:
    """``k1=v1, k2=v2`` from a canonical key text (``<len>:<text>`` or ``N`` joined by ``|``)."""
    values: list[str] = []
    i = 0
    while i < len(key_text):
        if key_text[i] == "N":
            values.append("NULL")
            i += 2
            continue
        colon = key_text.find(":", i)
        if colon < 0 or not key_text[i:colon].isdigit():
            return key_text
        n = int(key_text[i:colon])
        values.append(key_text[colon + 1 : colon + 1 + n])
        i = colon + 1 + n + 1
    if len(values) != len(names):
        return key_text
    return ", ".join(f"{k}={v}" for k, v in zip(names, values, strict=True))

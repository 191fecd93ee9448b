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
    """What verification needs of one table: both names and the compared columns."""

    source: SourceTable
    source_filter: str | None
    target_schema: str
    target_table: str
    columns: tuple[VerifyColumn, ...]

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


# Snowflake ---------------------------------------------------------------------------------


def _sf_from(spec: TableSpec, r: ChunkRange) -> tuple[str, dict[str, Any]]:
    predicate, params = source_sql.chunk_predicate(r)
    where = source_sql.where_clause(spec.source_filter, predicate)
    return f"FROM {source_sql.table_ref(spec.source)} {where}", params


def sf_checksum(spec: TableSpec, r: ChunkRange) -> tuple[str, dict[str, Any]]:
    """``rows, checksum`` of the chunk in Snowflake."""
    frm, params = _sf_from(spec, r)
    row_text = canonical.sf_row_text(spec.columns)
    inner = f"SELECT MD5({row_text}) AS h {frm}"
    return f"SELECT COUNT(*), SUM({canonical.SF_HASH_OF_H}) FROM ({inner})", params


def sf_checksums(
    spec: TableSpec, chunks: Sequence[tuple[int, ChunkRange]]
) -> tuple[str, dict[str, Any]]:
    """``chunk_id, rows, checksum`` of several chunks in one scan (chunks with no rows absent)."""
    params: dict[str, Any] = {}
    whens, anys = [], []
    for chunk_id, r in chunks:
        predicate, p = source_sql.chunk_predicate(r, prefix=f"c{int(chunk_id)}_")
        params.update(p)
        whens.append(f"WHEN {predicate} THEN {int(chunk_id)}")
        anys.append(f"({predicate})")
    where = source_sql.where_clause(spec.source_filter, " OR ".join(anys))
    row_text = canonical.sf_row_text(spec.columns)
    inner = (
        f"SELECT CASE {' '.join(whens)} END AS g, MD5({row_text}) AS h"
        f" FROM {source_sql.table_ref(spec.source)} {where}"
    )
    return f"SELECT g, COUNT(*), SUM({canonical.SF_HASH_OF_H}) FROM ({inner}) GROUP BY g", params


def sf_row_hashes(spec: TableSpec, r: ChunkRange) -> tuple[str, dict[str, Any]]:
    """``key text, row hash`` of every row of the chunk in Snowflake."""
    frm, params = _sf_from(spec, r)
    key_cols = spec.key_columns(r) or list(spec.columns)
    key_text = canonical.sf_row_text(key_cols)
    row_text = canonical.sf_row_text(spec.columns)
    inner = f"SELECT {key_text} AS k, MD5({row_text}) AS h {frm}"
    return f"SELECT k, {canonical.SF_HASH_OF_H} FROM ({inner})", params


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


def pg_chunk_where(spec: TableSpec, r: ChunkRange) -> tuple[sql.Composable, list[Any]]:
    """A WHERE condition selecting the chunk's rows in the target, and its parameters."""
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


def _pg_from(spec: TableSpec, r: ChunkRange) -> tuple[sql.Composable, list[Any]]:
    where, params = pg_chunk_where(spec, r)
    table = sql.Identifier(spec.target_schema, spec.target_table)
    return sql.SQL("FROM {} WHERE {}").format(table, where), params


def pg_checksum(spec: TableSpec, r: ChunkRange) -> tuple[sql.Composed, list[Any]]:
    frm, params = _pg_from(spec, r)
    h = canonical.pg_row_hash(canonical.pg_row_text(spec.columns))
    return sql.SQL("SELECT count(*), sum({}) {}").format(h, frm), params


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
    h = canonical.pg_row_hash(canonical.pg_row_text(spec.columns))
    table = sql.Identifier(spec.target_schema, spec.target_table)
    query = sql.SQL(
        "SELECT g, count(*), sum(h) FROM (SELECT CASE {} END AS g, {} AS h FROM {} WHERE {}) s"
        " GROUP BY g"
    ).format(sql.SQL(" ").join(whens), h, table, sql.SQL(" OR ").join(anys))
    return query, case_params + any_params


def pg_row_hashes(spec: TableSpec, r: ChunkRange) -> tuple[sql.Composed, list[Any]]:
    frm, params = _pg_from(spec, r)
    key_cols = spec.key_columns(r) or list(spec.columns)
    h = canonical.pg_row_hash(canonical.pg_row_text(spec.columns))
    return sql.SQL("SELECT {}, {} {}").format(canonical.pg_row_text(key_cols), h, frm), params


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

"""The Snowflake side of verification: canonical values and the checksum queries of chunks. Pure.

Each chunk is compared with two queries per side: a checksum (row count and the sum of the rows'
hashes) and, only when those differ, the key and hash of every row of the chunk. The canonical
text rules are :mod:`snowpg.checksum_spec`'s; :mod:`snowpg.postgres.checksums` is the PostgreSQL
twin of every query here.
"""

# ruff: noqa: S608 - SQL is composed here: identifiers quoted (quote_ident), bound values passed
# as parameters.
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from snowpg.checksum_spec import (
    STRIP,
    ChecksumSpec,
    VerifyColumn,
    contiguous_split,
    float_template,
    json_positions,
    sql_positions,
)
from snowpg.model import ChunkRange
from snowpg.snowflake import statements
from snowpg.snowflake.statements import quote_ident


# The microseconds of a second's nanoseconds ``n`` by the copy's rule: the reader floors to the
# microsecond (snowpg.snowflake.timestamps, the connector's force_microsecond_precision), so
# .123456999 becomes .123456 on both sides.
def sf_micros_of_ns(ns: str) -> str:
    """Snowflake: the microseconds that the nanoseconds ``ns`` of a second (0..999999999) become."""
    return f"CAST(FLOOR({ns} / 1000) AS NUMBER(8,0))"


# The templates per category: {c} is the quoted column. Dialect differences are the only reason
# two sets exist (the other is target.checksums' _PG); the arithmetic is the same.
_SF: dict[str, str] = {
    "number": STRIP.format(t="CAST({c} AS VARCHAR)"),
    # Snowflake's LOG(10, x) and PostgreSQL's log(x) may differ in the last bit next to a power
    # of ten; the exponent then differs by one, and moving trailing zeros into the exponent makes
    # the text the same again (the 15- and 16-digit roundings of such a value agree).
    # CAST, not TO_VARCHAR: the emulator's RTRIM leaves all-digit TO_VARCHAR output untouched.
    "float": float_template("LOG(10, ABS({c}))", "CAST({x} AS VARCHAR)", "NUMBER(38,0)"),
    "text": "CAST({c} AS VARCHAR)",
    "boolean": "CASE WHEN {c} THEN 't' WHEN NOT {c} THEN 'f' END",
    "date": "TO_VARCHAR({c}, 'YYYY-MM-DD')",
    # DATEDIFF counts whole microseconds (truncates): fakesnow has no nanosecond part of a TIME
    # (and keeps microseconds at most). See docs/verify.md for TIME with nanoseconds.
    "time": "TO_VARCHAR(DATEDIFF(microsecond, CAST('00:00:00' AS TIME), {c}))",
    "timestamp": (
        "TO_VARCHAR(CAST(DATE_PART(epoch_microsecond, {c})"
        " - CAST(FLOOR(DATE_PART(nanosecond, {c}) / 1000) AS NUMBER(38,0))"
        " + " + sf_micros_of_ns("DATE_PART(nanosecond, {c})") + " AS NUMBER(38,0)))"
    ),
    "binary": "LOWER(HEX_ENCODE({c}))",
    "other": "CASE WHEN {c} IS NULL THEN NULL ELSE 'j' END",
}
# JSON values are compared by content on the client (verify.jsontext); in SQL, where a JSON column
# is part of a no-key table's row key, only whether it is NULL.
_SF["json"] = _SF["other"]
_SF["timestamptz"] = _SF["timestamp"]

# Snowflake's 15 hex digits -> integer: the emulator has no TO_NUMBER(.., 'XXX'), so each digit of
# the MD5 text (column ``h`` of an inner query) is looked up with POSITION and weighted; real
# Snowflake evaluates the same expression. Max 2^60 - 1, so NUMBER(19,0) holds it.
SF_HASH_OF_H = (
    "CAST("
    + " + ".join(
        f"(POSITION(SUBSTR(h, {i + 1}, 1) IN '0123456789abcdef') - 1) * {16 ** (14 - i)}"
        for i in range(15)
    )
    + " AS NUMBER(19,0))"
)


def sf_value(col: VerifyColumn) -> str:
    return _SF[col.category].format(c=quote_ident(col.source))


def sf_text(values: Sequence[str]) -> str:
    """The row text of canonical values (Snowflake expressions, e.g. a subquery's columns)."""
    if not values:
        return "''"
    return " || '|' || ".join(
        f"COALESCE(CAST(LENGTH({v}) AS VARCHAR) || ':' || {v}, 'N')" for v in values
    )


def sf_row_text(columns: Sequence[VerifyColumn]) -> str:
    return sf_text([sf_value(c) for c in columns])


# Each query computes every column's canonical value once, in an inner query (``v0``, ``v1``...),
# and builds the row and key texts from those; JSON columns also travel raw (``j0``...) for the
# client. Real Snowflake has HASH_AGG, but the emulator does not: the sum of MD5 prefixes works
# on both.


def _v(i: int) -> str:
    return f'"v{i}"'


def _sf_inner(spec: ChecksumSpec, where: str, group: str | None = None) -> str:
    values = [f"{sf_value(c)} AS {_v(i)}" for i, c in enumerate(spec.columns)]
    values += [f'{quote_ident(spec.columns[i].source)} AS "j{i}"' for i in json_positions(spec)]
    if group is not None:
        values.insert(0, f"{group} AS g")
    return f"SELECT {', '.join(values)} FROM {statements.table_ref(spec.source)} {where}"


def _sf_md5(spec: ChecksumSpec) -> str:
    return f"MD5({sf_text([_v(i) for i in sql_positions(spec)])})"


def sf_checksum(spec: ChecksumSpec, r: ChunkRange) -> tuple[str, dict[str, Any]]:
    """``chunk id (0), rows, checksum`` of one chunk in Snowflake."""
    return sf_checksums(spec, [(0, r)])


def sf_checksums(
    spec: ChecksumSpec, chunks: Sequence[tuple[int, ChunkRange]]
) -> tuple[str, dict[str, Any]]:
    """``chunk_id, rows, checksum`` of several chunks in one scan (chunks with no rows absent).
    Not for tables with JSON columns, whose rows are hashed on the client (:func:`sf_rows`)."""
    group, selected, params = _sf_group(chunks)
    where = statements.where_clause(spec.source_filter, selected)
    inner = _sf_inner(spec, where, group=group)
    hashed = f"SELECT g, {_sf_md5(spec)} AS h FROM ({inner})"
    return f"SELECT g, COUNT(*), SUM({SF_HASH_OF_H}) FROM ({hashed}) GROUP BY g", params


def _sf_group(chunks: Sequence[tuple[int, ChunkRange]]) -> tuple[str, str, dict[str, Any]]:
    """``(chunk id expression, WHERE predicate, parameters)`` for a group of chunks: a binary
    search under one range when the chunks follow each other (``contiguous_split``), else a
    CASE over every chunk's predicate under their OR."""
    params: dict[str, Any] = {}

    def pred(r: ChunkRange, prefix: str) -> str:
        text, p = statements.chunk_predicate(r, prefix=prefix)
        params.update(p)
        return text

    split = contiguous_split(chunks)
    if split is None:
        whens = [f"WHEN {pred(r, f'c{int(i)}_')} THEN {int(i)}" for i, r in chunks]
        anys = " OR ".join(f"({pred(r, f'c{int(i)}_')})" for i, r in chunks)
        return f"CASE {' '.join(whens)} END", anys, params
    ranges, nulls = split
    first = ranges[0][1]

    def search(lo: int, hi: int) -> str:
        if lo == hi:
            return str(int(ranges[lo][0]))
        mid = (lo + hi + 1) // 2
        at = ChunkRange(first.columns, first.types, lower=ranges[mid][1].lower)
        cond = pred(at, f"b{mid}_")
        return f"CASE WHEN {cond} THEN {search(mid, hi)} ELSE {search(lo, mid - 1)} END"

    null_whens = [f"WHEN {pred(r, f'c{int(i)}_')} THEN {int(i)}" for i, r in nulls]
    found = search(0, len(ranges) - 1)
    group = f"CASE {' '.join(null_whens)} ELSE {found} END" if null_whens else found
    span = ChunkRange(first.columns, first.types, lower=first.lower, upper=ranges[-1][1].upper)
    selected = " OR ".join(
        [f"({pred(span, 'e_')})", *(f"({pred(r, f'n{int(i)}_')})" for i, r in nulls)]
    )
    return group, selected, params


def sf_rows(spec: ChecksumSpec, r: ChunkRange) -> tuple[str, dict[str, Any]]:
    """``key text, MD5 hex of the SQL part, raw JSON values...`` of every row of the chunk."""
    predicate, params = statements.chunk_predicate(r)
    inner = _sf_inner(spec, statements.where_clause(spec.source_filter, predicate))
    key = sf_text([_v(i) for i in spec.key_indexes(r)])
    raw = "".join(f', "j{i}"' for i in json_positions(spec))
    return f"SELECT {key} AS k, {_sf_md5(spec)} AS h{raw} FROM ({inner})", params


def sf_row_hashes(spec: ChecksumSpec, r: ChunkRange) -> tuple[str, dict[str, Any]]:
    """``key text, row hash`` of every row of the chunk in Snowflake (no JSON columns)."""
    rows, params = sf_rows(spec, r)
    return f"SELECT k, {SF_HASH_OF_H} FROM ({rows})", params

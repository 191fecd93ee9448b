"""The canonical text of a value, spelled once for Snowflake and once for PostgreSQL. Pure: no I/O.

Verification hashes each row on both servers and compares sums of the hashes, so both sides must
turn the same value into exactly the same text. Every rule below is built from functions both
engines evaluate the same way (integer arithmetic, IEEE multiplication/division/floor, string
trimming), never from their default output formats, which differ:

================  ==========================================================================
category          canonical text (NULL stays NULL)
================  ==========================================================================
number            exact decimal digits, trailing fractional zeros removed: ``1.50`` -> ``1.5``
float             15 significant digits ``<mantissa>e<exp>`` with trailing mantissa zeros
                  moved into the exponent; ``NaN``, ``inf``, ``-inf``; ``0`` for both zeros;
                  magnitudes below 1e-290 (subnormals) only as ``tiny``/``-tiny``
text              the string itself
boolean           ``t`` / ``f``
date              ``YYYY-MM-DD``
time              microseconds since midnight (integer)
timestamp*        microseconds since 1970-01-01 (NTZ: wall clock; LTZ/TZ: the UTC instant);
                  Snowflake's sub-microsecond digits floored by the copy's own rule
                  (``copy.binary``: ``rint(ns / 1e9 * 1e6)``, half to even)
binary            lower-case hex
json              VARIANT/OBJECT/ARRAY/MAP: not in SQL; each side's JSON text is brought to one
                  canonical form on the client (:mod:`snowpg.verify.jsontext`) and hashed with
                  the row's SQL hash there
spatial, other    whether the value is NULL only
================  ==========================================================================

A row's text joins ``<length>:<text>`` (or ``N`` for NULL) of every column with ``|``, so no two
different rows have the same text. Its hash is the first 15 hex digits of MD5 as a 60-bit integer;
a chunk's checksum is the SUM of its rows' hashes (exact: NUMBER(38,0) / numeric), which is
independent of row order and sees duplicated rows.
"""

# Snowflake identifiers go through quote_ident, PostgreSQL ones through psycopg.sql.Identifier;
# no value is ever spliced into the SQL text built here.
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql

from snowpg.errors import ConfigError
from snowpg.source.sql import quote_ident
from snowpg.typefamilies import (
    BINARY_TYPES,
    BOOLEAN_TYPES,
    DATE_TYPES,
    DECFLOAT_TYPES,
    FIXED_TYPES,
    FLOAT_TYPES,
    SEMI_STRUCTURED_TYPES,
    TEXT_TYPES,
    TIME_TYPES,
    TIMESTAMP_NTZ_TYPES,
    ZONED_TIMESTAMP_TYPES,
    base_type,
)

# Snowflake type names (typefamilies.base_type) by canonical category.
# Spatial and VECTOR values are "other": compared by NULL-ness only.
_CATEGORIES: dict[str, tuple[str, ...]] = {
    "number": FIXED_TYPES + DECFLOAT_TYPES,
    "float": FLOAT_TYPES,
    "text": TEXT_TYPES,
    "boolean": BOOLEAN_TYPES,
    "date": DATE_TYPES,
    "time": TIME_TYPES,
    "timestamp": TIMESTAMP_NTZ_TYPES,
    "timestamptz": ZONED_TIMESTAMP_TYPES,
    "binary": BINARY_TYPES,
    "json": SEMI_STRUCTURED_TYPES,
}
_CATEGORY_OF = {name: cat for cat, names in _CATEGORIES.items() for name in names}

# Magnitudes below this are compared by sign only: scaling them to 15 digits would overflow.
_TINY = "1e-290"

# Trailing fractional zeros and then a trailing point removed; the same text on both engines.
# (Not RTRIM(.., '.'): the emulator leaves a trailing '.' in place.)
_STRIP = (
    "CASE WHEN POSITION('.' IN {t}) > 0 THEN CASE WHEN RIGHT(RTRIM({t}, '0'), 1) = '.'"
    " THEN SUBSTR(RTRIM({t}, '0'), 1, LENGTH(RTRIM({t}, '0')) - 1) ELSE RTRIM({t}, '0') END"
    " ELSE {t} END"
)


def _float_template(log10: str, to_text: str, num: str) -> str:
    """Canonical float text; ``{c}`` is the column, ``to_text`` wraps ``{x}`` into text."""
    e = f"FLOOR({log10})"
    mant = to_text.format(x=f"CAST(FLOOR({{c}} / POWER(10, {e} - 14) + 0.5) AS {num})")
    stripped = f"RTRIM({mant}, '0')"
    exp = to_text.format(x=f"CAST({e} - 14 + LENGTH({mant}) - LENGTH({stripped}) AS {num})")
    return (
        "CASE WHEN {c} IS NULL THEN NULL WHEN {c} = CAST('NaN' AS DOUBLE PRECISION) THEN 'NaN'"
        " WHEN {c} = CAST('inf' AS DOUBLE PRECISION) THEN 'inf'"
        " WHEN {c} = CAST('-inf' AS DOUBLE PRECISION) THEN '-inf'"
        " WHEN {c} = 0 THEN '0'"
        f" WHEN ABS({{c}}) < {_TINY} THEN CASE WHEN {{c}} < 0 THEN '-tiny' ELSE 'tiny' END"
        f" ELSE {stripped} || 'e' || {exp} END"
    )


# The microseconds of a second's nanoseconds ``n`` by the copy's rule: the reader floors to the
# microsecond (snowpg.source.timestamps, the connector's force_microsecond_precision), so
# .123456999 becomes .123456 on both sides.
def sf_micros_of_ns(ns: str) -> str:
    """Snowflake: the microseconds that the nanoseconds ``ns`` of a second (0..999999999) become."""
    return f"CAST(FLOOR({ns} / 1000) AS NUMBER(8,0))"


_TS_PG = "CAST(CAST(EXTRACT(EPOCH FROM {c}) * 1000000 AS bigint) AS text)"

# The templates per category: {c} is the quoted column. Dialect differences are the only reason
# two sets exist; the arithmetic is the same.
_SF: dict[str, str] = {
    "number": _STRIP.format(t="CAST({c} AS VARCHAR)"),
    # Snowflake's LOG(10, x) and PostgreSQL's log(x) may differ in the last bit next to a power
    # of ten; the exponent then differs by one, and moving trailing zeros into the exponent makes
    # the text the same again (the 15- and 16-digit roundings of such a value agree).
    # CAST, not TO_VARCHAR: the emulator's RTRIM leaves all-digit TO_VARCHAR output untouched.
    "float": _float_template("LOG(10, ABS({c}))", "CAST({x} AS VARCHAR)", "NUMBER(38,0)"),
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

_PG: dict[str, str] = {
    "number": _STRIP.format(t="CAST(CAST({c} AS numeric) AS text)"),
    "float": _float_template(
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


def category(data_type: str) -> str:
    """The canonical category of a Snowflake type (``other``: compared by NULL-ness only)."""
    return _CATEGORY_OF.get(base_type(data_type), "other")


@dataclass(frozen=True)
class VerifyColumn:
    """One compared column: its Snowflake name and type, and its PostgreSQL name."""

    source: str
    target: str
    data_type: str

    @property
    def category(self) -> str:
        return category(self.data_type)


def sf_value(col: VerifyColumn) -> str:
    return _SF[col.category].format(c=quote_ident(col.source))


def pg_value(col: VerifyColumn) -> sql.Composable:
    return sql.SQL(_PG[col.category]).format(c=sql.Identifier(col.target))


def sql_columns(columns: Sequence[VerifyColumn]) -> list[VerifyColumn]:
    """The columns whose canonical text SQL computes (all but JSON)."""
    return [c for c in columns if c.category != "json"]


def json_columns(columns: Sequence[VerifyColumn]) -> list[VerifyColumn]:
    """The columns compared by content on the client (:mod:`snowpg.verify.jsontext`)."""
    return [c for c in columns if c.category == "json"]


def sf_text(values: Sequence[str]) -> str:
    """The row text of canonical values (Snowflake expressions, e.g. a subquery's columns)."""
    if not values:
        return "''"
    return " || '|' || ".join(
        f"COALESCE(CAST(LENGTH({v}) AS VARCHAR) || ':' || {v}, 'N')" for v in values
    )


def pg_text(values: Sequence[sql.Composable]) -> sql.Composable:
    """:func:`sf_text` for PostgreSQL."""
    if not values:
        return sql.SQL("''")
    parts = [
        sql.SQL("COALESCE(CAST(length({v}) AS text) || ':' || {v}, 'N')").format(v=v)
        for v in values
    ]
    return sql.SQL(" || '|' || ").join(parts)


def sf_row_text(columns: Sequence[VerifyColumn]) -> str:
    return sf_text([sf_value(c) for c in columns])


def pg_row_text(columns: Sequence[VerifyColumn]) -> sql.Composable:
    return pg_text([pg_value(c) for c in columns])


def pg_row_hash(row_text: sql.Composable) -> sql.Composable:
    """The 60-bit hash of ``row_text`` (bigint): the value :data:`SF_HASH_OF_H` gives on the
    Snowflake side for ``h = MD5(row_text)``."""
    return sql.SQL("CAST(CAST('x' || substr(md5({t}), 1, 15) AS bit(60)) AS bigint)").format(
        t=row_text
    )


def check_verifiable(columns: Sequence[VerifyColumn], table: str) -> None:
    if not columns:
        raise ConfigError(f"table {table} has no mapped columns to verify")

"""Snowflake column types -> PostgreSQL column types. Pure and table-driven.

Every Snowflake type maps to a PostgreSQL type that holds all its values; where PostgreSQL keeps
less (nanoseconds, the offset of ``TIMESTAMP_TZ``), ``docs/types.md`` says so. Spellings returned
here are the only type text ``snowpg.target.ddl`` accepts when it creates a table.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from snowpg.errors import DataError
from snowpg.model import SourceColumn

# PostgreSQL's varchar(n) limit; longer declared lengths become text.
PG_MAX_VARCHAR = 10_485_760
# Snowflake's default (and maximum) VARCHAR length: a column declared without a length, so the
# length says nothing about the data and text is the honest PostgreSQL type.
SNOWFLAKE_DEFAULT_VARCHAR = 16_777_216
# PostgreSQL numeric(p,s) allows precision 1..1000.
PG_MAX_NUMERIC_PRECISION = 1000

_NUMBER = ("NUMBER", "DECIMAL", "NUMERIC", "DEC")
# Integer synonyms are NUMBER(38,0) in Snowflake whatever their name suggests.
_INTEGER = ("INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT")
_FLOAT = ("FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLE PRECISION", "REAL")
_TEXT = (
    "TEXT", "VARCHAR", "STRING", "CHAR", "CHARACTER", "NCHAR", "NVARCHAR", "NVARCHAR2",
    "CHAR VARYING", "NCHAR VARYING", "CHARACTER VARYING",
)  # fmt: skip
_BINARY = ("BINARY", "VARBINARY")
# TIMESTAMP is NTZ under Snowflake's default TIMESTAMP_TYPE_MAPPING.
_TIMESTAMP = ("TIMESTAMP_NTZ", "DATETIME", "TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE")
_TIMESTAMPTZ = (
    "TIMESTAMP_LTZ", "TIMESTAMP_TZ", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITH LOCAL TIME ZONE",
)  # fmt: skip
# Semi-structured and spatial values arrive as JSON text (GeoJSON for spatial, Snowflake's default
# output format); VECTOR as a JSON array, which COPY reads into jsonb unchanged.
JSON_SOURCE_TYPES = ("VARIANT", "OBJECT", "ARRAY", "MAP", "GEOGRAPHY", "GEOMETRY", "VECTOR")

# Types whose values have a total order Snowflake and the chunk planner agree on.
_ORDERABLE = frozenset(
    _NUMBER + _INTEGER + _FLOAT + _TEXT + _BINARY + _TIMESTAMP + _TIMESTAMPTZ
    + ("DECFLOAT", "BOOLEAN", "DATE", "TIME")
)  # fmt: skip

_PARAMS_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_ ]*?)\s*(?:\((.*)\))?\s*$")


def base_type(data_type: str) -> str:
    """``data_type`` upper-cased, single-spaced, without a ``(...)`` suffix."""
    m = _PARAMS_RE.match(data_type)
    name = m.group(1) if m else data_type
    return " ".join(name.upper().split())


# Families of Snowflake types, for code that needs the kind of value rather than the type.
_FAMILIES: dict[str, tuple[str, ...]] = {
    "number": _NUMBER + _INTEGER,
    "float": _FLOAT,
    "text": _TEXT,
    "binary": _BINARY,
    "bool": ("BOOLEAN",),
    "date": ("DATE",),
    "time": ("TIME",),
    "timestamp": _TIMESTAMP + _TIMESTAMPTZ,
    # VECTOR arrives as an Arrow list; the reader turns it into JSON text (source.nested).
    "json": JSON_SOURCE_TYPES,
}
_FAMILY_OF = {t: family for family, types in _FAMILIES.items() for t in types}


def type_family(data_type: str) -> str:
    """``number``, ``float``, ``text``, ``binary``, ``bool``, ``date``, ``time``, ``timestamp``,
    ``json`` or ``other`` (DECFLOAT, unknown types) for a Snowflake type."""
    return _FAMILY_OF.get(base_type(data_type), "other")


def _type_args(data_type: str) -> list[int]:
    """Integer arguments written in the type text, e.g. ``NUMBER(10,2)`` -> ``[10, 2]``."""
    m = _PARAMS_RE.match(data_type)
    if not m or not m.group(2):
        return []
    out: list[int] = []
    for part in m.group(2).split(","):
        part = part.strip()
        if not part.isdigit():
            return []
        out.append(int(part))
    return out


def _number(col: SourceColumn) -> str:
    args = _type_args(col.data_type)
    precision = col.precision if col.precision is not None else (args[0] if args else None)
    scale = col.scale if col.scale is not None else (args[1] if len(args) > 1 else 0)
    if precision is None:
        # Without a precision the scale is unknown too: unconstrained numeric loses nothing.
        return "numeric"
    if not 1 <= precision <= PG_MAX_NUMERIC_PRECISION or not 0 <= scale <= precision:
        return "numeric"
    if scale > 0:
        return f"numeric({precision},{scale})"
    if precision <= 4:
        return "smallint"
    if precision <= 9:
        return "integer"
    if precision <= 18:
        return "bigint"
    # NUMBER(19..38,0) can exceed bigint's range, so it stays numeric.
    return f"numeric({precision},0)"


def _integer(col: SourceColumn) -> str:
    if col.precision is None:
        return "numeric(38,0)"
    return _number(col)


def _text(col: SourceColumn) -> str:
    args = _type_args(col.data_type)
    length = col.length if col.length is not None else (args[0] if args else None)
    if length is None or length < 1:
        return "text"
    if length > PG_MAX_VARCHAR or length == SNOWFLAKE_DEFAULT_VARCHAR:
        return "text"
    # Also for CHAR(n): Snowflake does not blank-pad CHAR values, PostgreSQL char(n) would.
    return f"varchar({length})"


def _fixed(pg_type: str) -> Callable[[SourceColumn], str]:
    return lambda _col: pg_type


_RULES: dict[str, Callable[[SourceColumn], str]] = {
    **{t: _number for t in _NUMBER},
    **{t: _integer for t in _INTEGER},
    "DECFLOAT": _fixed("numeric"),
    **{t: _fixed("double precision") for t in _FLOAT},
    **{t: _text for t in _TEXT},
    **{t: _fixed("bytea") for t in _BINARY},
    "BOOLEAN": _fixed("boolean"),
    "DATE": _fixed("date"),
    "TIME": _fixed("time"),
    **{t: _fixed("timestamp") for t in _TIMESTAMP},
    **{t: _fixed("timestamptz") for t in _TIMESTAMPTZ},
    **{t: _fixed("jsonb") for t in JSON_SOURCE_TYPES},
}


def pg_type_for(col: SourceColumn) -> str:
    """The PostgreSQL type of a new target column for ``col``.

    Raises :class:`DataError` naming the column for a Snowflake type snowpg does not know.
    """
    rule = _RULES.get(base_type(col.data_type))
    if rule is None:
        raise DataError(
            f'column "{col.name}" has Snowflake type {col.data_type}, which snowpg cannot map to '
            "a PostgreSQL type",
            hint=(
                "leave the column out (create the target table yourself without it, or cast it in "
                "a view), or open an issue at the snowpg repository with the type"
            ),
            column=col.name,
        )
    return rule(col)


def is_json_type(data_type: str) -> bool:
    """True for Snowflake types whose values are loaded as JSON text into ``jsonb``."""
    return base_type(data_type) in JSON_SOURCE_TYPES


def is_orderable(data_type: str) -> bool:
    """True when a column of this Snowflake type can be a range-chunking key."""
    return base_type(data_type) in _ORDERABLE


def known_types() -> tuple[str, ...]:
    """Every Snowflake type name (and alias) :func:`pg_type_for` accepts, sorted."""
    return tuple(sorted(_RULES))

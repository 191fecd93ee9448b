"""Snowflake column types -> PostgreSQL column types. Pure and table-driven.

Every Snowflake type maps to a PostgreSQL type that holds all its values; where PostgreSQL keeps
less (nanoseconds, the offset of ``TIMESTAMP_TZ``), ``docs/types.md`` says so. Spellings returned
here are the only type text ``snowpg.postgres.ddl`` accepts when it creates a table.
"""

from __future__ import annotations

from collections.abc import Callable

from snowpg.errors import DataError
from snowpg.model import SourceColumn
from snowpg.typefamilies import (
    BINARY_TYPES,
    BOOLEAN_TYPES,
    DATE_TYPES,
    DECFLOAT_TYPES,
    FLOAT_TYPES,
    INTEGER_TYPES,
    JSON_TYPES,
    NUMBER_TYPES,
    TEXT_TYPES,
    TIME_TYPES,
    TIMESTAMP_NTZ_TYPES,
    ZONED_TIMESTAMP_TYPES,
    base_type,
    type_arguments,
)

# PostgreSQL's varchar(n) limit; longer declared lengths become text.
PG_MAX_VARCHAR = 10_485_760
# Snowflake's default (and maximum) VARCHAR length: a column declared without a length, so the
# length says nothing about the data and text is the honest PostgreSQL type.
SNOWFLAKE_DEFAULT_VARCHAR = 16_777_216
# PostgreSQL numeric(p,s) allows precision 1..1000.
PG_MAX_NUMERIC_PRECISION = 1000


def _number(col: SourceColumn) -> str:
    args = type_arguments(col.data_type)
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
    args = type_arguments(col.data_type)
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
    **{t: _number for t in NUMBER_TYPES},
    **{t: _integer for t in INTEGER_TYPES},
    **{t: _fixed("numeric") for t in DECFLOAT_TYPES},
    **{t: _fixed("double precision") for t in FLOAT_TYPES},
    **{t: _text for t in TEXT_TYPES},
    **{t: _fixed("bytea") for t in BINARY_TYPES},
    **{t: _fixed("boolean") for t in BOOLEAN_TYPES},
    **{t: _fixed("date") for t in DATE_TYPES},
    **{t: _fixed("time") for t in TIME_TYPES},
    **{t: _fixed("timestamp") for t in TIMESTAMP_NTZ_TYPES},
    **{t: _fixed("timestamptz") for t in ZONED_TIMESTAMP_TYPES},
    # Semi-structured, spatial (GeoJSON) and VECTOR (a JSON array) values arrive as JSON text,
    # which COPY reads into jsonb unchanged.
    **{t: _fixed("jsonb") for t in JSON_TYPES},
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


def known_types() -> tuple[str, ...]:
    """Every Snowflake type name (and alias) :func:`pg_type_for` accepts, sorted."""
    return tuple(sorted(_RULES))

"""What verification compares of a table, and the canonical text both sides hash. Pure: no I/O.


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

The Snowflake spelling of each rule is :mod:`snowpg.snowflake.checksums`, the PostgreSQL one
:mod:`snowpg.postgres.checksums`; the templates both spell alike (number and float text) are here.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from snowpg.errors import ConfigError
from snowpg.model import ChunkRange, SourceTable
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

if TYPE_CHECKING:  # a type only: ground loads no driver
    from psycopg import sql

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
TINY = "1e-290"

# Trailing fractional zeros and then a trailing point removed; the same text on both engines.
# (Not RTRIM(.., '.'): the emulator leaves a trailing '.' in place.)
STRIP = (
    "CASE WHEN POSITION('.' IN {t}) > 0 THEN CASE WHEN RIGHT(RTRIM({t}, '0'), 1) = '.'"
    " THEN SUBSTR(RTRIM({t}, '0'), 1, LENGTH(RTRIM({t}, '0')) - 1) ELSE RTRIM({t}, '0') END"
    " ELSE {t} END"
)


def float_template(log10: str, to_text: str, num: str) -> str:
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
        f" WHEN ABS({{c}}) < {TINY} THEN CASE WHEN {{c}} < 0 THEN '-tiny' ELSE 'tiny' END"
        f" ELSE {stripped} || 'e' || {exp} END"
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


def sql_columns(columns: Sequence[VerifyColumn]) -> list[VerifyColumn]:
    """The columns whose canonical text SQL computes (all but JSON)."""
    return [c for c in columns if c.category != "json"]


def json_columns(columns: Sequence[VerifyColumn]) -> list[VerifyColumn]:
    """The columns compared by content on the client (:mod:`snowpg.verify.jsontext`)."""
    return [c for c in columns if c.category == "json"]


def check_verifiable(columns: Sequence[VerifyColumn], table: str) -> None:
    if not columns:
        raise ConfigError(f"table {table} has no mapped columns to verify")


@dataclass(frozen=True)
class ChecksumSpec:
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
        return bool(json_columns(self.columns))

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


def sql_positions(spec: ChecksumSpec) -> list[int]:
    """Positions of the columns whose canonical text SQL computes."""
    return [i for i, c in enumerate(spec.columns) if c.category != "json"]


def json_positions(spec: ChecksumSpec) -> list[int]:
    """Positions of the JSON columns (their raw values travel to the client)."""
    return [i for i, c in enumerate(spec.columns) if c.category == "json"]


def contiguous_split(
    chunks: Sequence[tuple[int, ChunkRange]],
) -> tuple[list[tuple[int, ChunkRange]], list[tuple[int, ChunkRange]]] | None:
    """``(ranges, nulls)`` when the group's key-range chunks follow each other in the given
    order (each one's upper bound is the next one's lower bound, one key) and the rest are NULL
    chunks; None otherwise.

    Such a group is selected by one range (first lower to last upper bound, which prunes
    micro-partitions and index pages where an OR of ranges does not) and a row finds its chunk
    by a binary search over the lower bounds: log2(n) comparisons instead of up to n.
    """
    ranges = [(i, r) for i, r in chunks if not r.nulls]
    nulls = [(i, r) for i, r in chunks if r.nulls]
    if len(ranges) < 2 or not ranges[0][1].columns:
        return None
    first = ranges[0][1]
    for (_a, a), (_b, b) in itertools.pairwise(ranges):
        if (a.columns, a.types) != (first.columns, first.types) or a.upper is None:
            return None
        if (b.columns, b.types) != (first.columns, first.types) or a.upper != b.lower:
            return None
    return ranges, nulls

"""Snowflake's type names, grouped by the kind of value they hold, and the one base-type parser.

Every spelling Snowflake accepts for a type is listed once here; modules that need to know what
kind of value a column holds (the type map, chunk sizing, the binary COPY plan, verification,
key expressions) ask :func:`family` or test membership in a tuple below instead of spelling the
names again. Ground module: it imports nothing from snowpg.

Type text is compared by :func:`base_type`: upper-cased, single-spaced, without ``(...)``, so
``number(38, 0)``, ``NUMBER`` and ``Number (10,2)`` are all ``NUMBER``.
"""

from __future__ import annotations

import re
from typing import Literal

# Fixed-point numbers. The integer synonyms are NUMBER(38,0) in Snowflake whatever their name says.
NUMBER_TYPES = ("NUMBER", "DECIMAL", "NUMERIC", "DEC")
INTEGER_TYPES = ("INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT")
FIXED_TYPES = NUMBER_TYPES + INTEGER_TYPES
# DECFLOAT: decimal floating point, 38 significant digits; neither fixed-point nor IEEE.
DECFLOAT_TYPES = ("DECFLOAT",)
FLOAT_TYPES = ("FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLE PRECISION", "REAL")
TEXT_TYPES = (
    "TEXT", "VARCHAR", "STRING", "CHAR", "CHARACTER", "NCHAR", "NVARCHAR", "NVARCHAR2",
    "CHAR VARYING", "NCHAR VARYING", "CHARACTER VARYING",
)  # fmt: skip
BINARY_TYPES = ("BINARY", "VARBINARY")
BOOLEAN_TYPES = ("BOOLEAN",)
DATE_TYPES = ("DATE",)
TIME_TYPES = ("TIME",)
# TIMESTAMP is NTZ under Snowflake's default TIMESTAMP_TYPE_MAPPING.
TIMESTAMP_NTZ_TYPES = ("TIMESTAMP_NTZ", "DATETIME", "TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE")
TIMESTAMP_LTZ_TYPES = ("TIMESTAMP_LTZ", "TIMESTAMP WITH LOCAL TIME ZONE")
TIMESTAMP_TZ_TYPES = ("TIMESTAMP_TZ", "TIMESTAMP WITH TIME ZONE")
# An instant: compared and loaded as UTC (timestamptz in PostgreSQL).
ZONED_TIMESTAMP_TYPES = TIMESTAMP_LTZ_TYPES + TIMESTAMP_TZ_TYPES
TIMESTAMP_TYPES = TIMESTAMP_NTZ_TYPES + ZONED_TIMESTAMP_TYPES
SEMI_STRUCTURED_TYPES = ("VARIANT", "OBJECT", "ARRAY", "MAP")
SPATIAL_TYPES = ("GEOGRAPHY", "GEOMETRY")
VECTOR_TYPES = ("VECTOR",)
# Values that arrive as JSON text: semi-structured, spatial (GeoJSON, Snowflake's default output
# format) and VECTOR (an Arrow list the reader turns into a JSON array).
JSON_TYPES = SEMI_STRUCTURED_TYPES + SPATIAL_TYPES + VECTOR_TYPES

# Types whose values have a total order Snowflake and the chunk planner agree on.
ORDERABLE_TYPES = frozenset(
    FIXED_TYPES + DECFLOAT_TYPES + FLOAT_TYPES + TEXT_TYPES + BINARY_TYPES + BOOLEAN_TYPES
    + DATE_TYPES + TIME_TYPES + TIMESTAMP_TYPES
)  # fmt: skip

# Key types whose order PostgreSQL reproduces exactly (text compared with COLLATE "C"), so a key
# range means the same rows on both sides: the keys of incremental delete checks.
EXACT_ORDER_KEY_TYPES = frozenset(FIXED_TYPES + TEXT_TYPES + DATE_TYPES)

Family = Literal[
    "number", "float", "text", "binary", "bool", "date", "time", "timestamp", "json", "other"
]

# The kind of value, for code that needs that rather than the exact type. DECFLOAT is "other":
# no fixed width and no binary encoder.
_FAMILIES: dict[Family, tuple[str, ...]] = {
    "number": FIXED_TYPES,
    "float": FLOAT_TYPES,
    "text": TEXT_TYPES,
    "binary": BINARY_TYPES,
    "bool": BOOLEAN_TYPES,
    "date": DATE_TYPES,
    "time": TIME_TYPES,
    "timestamp": TIMESTAMP_TYPES,
    "json": JSON_TYPES,
}
_FAMILY_OF: dict[str, Family] = {t: name for name, types in _FAMILIES.items() for t in types}

_TYPE_TEXT_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_ ]*?)\s*(?:\((.*)\))?\s*$")


def base_type(sql_type: str) -> str:
    """``sql_type`` upper-cased, single-spaced, without a ``(...)`` suffix.

    ``'NUMBER(38,0)'`` -> ``'NUMBER'``, ``'timestamp_ntz(9)'`` -> ``'TIMESTAMP_NTZ'``,
    ``'double  precision'`` -> ``'DOUBLE PRECISION'``, ``'VECTOR(FLOAT, 3)'`` -> ``'VECTOR'``.
    """
    m = _TYPE_TEXT_RE.match(sql_type)
    name = m.group(1) if m else sql_type
    return " ".join(name.upper().split())


def type_arguments(sql_type: str) -> list[int]:
    """Integer arguments written in the type text, e.g. ``NUMBER(10,2)`` -> ``[10, 2]``; ``[]``
    when there are none or any is not a plain integer (``VECTOR(FLOAT, 3)``)."""
    m = _TYPE_TEXT_RE.match(sql_type)
    if not m or not m.group(2):
        return []
    out: list[int] = []
    for part in m.group(2).split(","):
        part = part.strip()
        if not part.isdigit():
            return []
        out.append(int(part))
    return out


def family(sql_type: str) -> Family:
    """``number``, ``float``, ``text``, ``binary``, ``bool``, ``date``, ``time``, ``timestamp``,
    ``json`` or ``other`` (DECFLOAT, unknown types) for a Snowflake type."""
    return _FAMILY_OF.get(base_type(sql_type), "other")


def is_json_type(sql_type: str) -> bool:
    """True for Snowflake types whose values are loaded as JSON text into ``jsonb``."""
    return base_type(sql_type) in JSON_TYPES


def is_orderable(sql_type: str) -> bool:
    """True when a column of this Snowflake type can be a range-chunking key."""
    return base_type(sql_type) in ORDERABLE_TYPES


def is_zoned_timestamp(sql_type: str) -> bool:
    """True for TIMESTAMP_LTZ / TIMESTAMP_TZ (an instant), False for wall-clock and other types."""
    return base_type(sql_type) in ZONED_TIMESTAMP_TYPES

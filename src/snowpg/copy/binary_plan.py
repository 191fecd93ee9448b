"""Which binary encoder each column gets, from the target column's PostgreSQL type. Pure.

A binary COPY value is only right for the type it was made for, so the encoder follows the target
type as ``format_type()`` spells it, and the Snowflake type must be one that encoder reads
exactly. Anything else (``uuid``, ``real``, arrays, domains, a scaled NUMBER into ``integer``)
keeps the whole table on CSV COPY, where PostgreSQL converts the text itself; ``plan_kinds`` says
which column and why, for the log.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from snowpg.typefamilies import family

Kind = Literal[
    "bool",
    "int2",
    "int4",
    "int8",
    "float8",
    "numeric",
    "text",
    "json",
    "jsonb",
    "date",
    "timestamp",
    "time",
    "bytea",
]

# format_type() spellings (and the short names snowpg's type map writes) -> encoder.
_PG_KINDS: dict[str, Kind] = {
    "boolean": "bool",
    "bool": "bool",
    "smallint": "int2",
    "int2": "int2",
    "integer": "int4",
    "int": "int4",
    "int4": "int4",
    "bigint": "int8",
    "int8": "int8",
    "double precision": "float8",
    "float8": "float8",
    "numeric": "numeric",
    "decimal": "numeric",
    "text": "text",
    "character varying": "text",
    "varchar": "text",
    "character": "text",
    "char": "text",
    "bpchar": "text",
    "json": "json",
    "jsonb": "jsonb",
    "date": "date",
    "timestamp without time zone": "timestamp",
    "timestamp": "timestamp",
    "timestamp with time zone": "timestamp",
    "timestamptz": "timestamp",
    "time without time zone": "time",
    "time": "time",
    "bytea": "bytea",
}


# Which Snowflake families each encoder accepts ("*": any, through the CSV path's text form).
_ACCEPTS: dict[Kind, tuple[str, ...]] = {
    "bool": ("bool",),
    "int2": ("number0",),
    "int4": ("number0",),
    "int8": ("number0",),
    "float8": ("float",),
    "numeric": ("number", "number0"),
    "text": ("*",),
    "json": ("json", "text"),
    "jsonb": ("json", "text"),
    "date": ("date",),
    "timestamp": ("timestamp",),
    "time": ("time",),
    "bytea": ("binary",),
}


@dataclass(frozen=True)
class ColumnPair:
    """One loaded column: its name, Snowflake type (and scale), and target PostgreSQL type."""

    name: str
    source_type: str
    source_scale: int | None
    pg_type: str


class CopyEncoding(enum.Enum):
    """How a table's chunks are written into COPY; the value is COPY's ``FORMAT`` option."""

    CSV = "csv"
    BINARY = "binary"


@dataclass(frozen=True)
class EncodingChoice:
    """A table's copy encoding: binary with one encoder per column, or CSV and why."""

    encoding: CopyEncoding
    kinds: tuple[Kind, ...] | None = None  # one encoder per column; only for BINARY
    reason: str | None = None  # why the table is copied with CSV

    @classmethod
    def binary(cls, kinds: Sequence[Kind]) -> EncodingChoice:
        return cls(CopyEncoding.BINARY, tuple(kinds))

    @classmethod
    def csv(cls, reason: str) -> EncodingChoice:
        return cls(CopyEncoding.CSV, None, reason)


def pg_kind(pg_type: str) -> Kind | None:
    """The encoder for a PostgreSQL type as ``format_type()`` spells it, or None."""
    base = re.sub(r"\([^)]*\)", "", pg_type).strip().lower()
    return _PG_KINDS.get(" ".join(base.split()))


def plan_kinds(columns: Sequence[ColumnPair]) -> EncodingChoice:
    """Binary encoders for ``columns``, or why binary COPY cannot take them all."""
    kinds: list[Kind] = []
    for col in columns:
        kind = pg_kind(col.pg_type)
        if kind is None:
            return EncodingChoice.csv(
                f'column "{col.name}": snowpg has no binary encoder for {col.pg_type}'
            )
        source_kind: str = family(col.source_type)
        if source_kind == "number" and not col.source_scale:
            source_kind = "number0"
        accepted = _ACCEPTS[kind]
        if "*" not in accepted and source_kind not in accepted:
            return EncodingChoice.csv(
                f'column "{col.name}": Snowflake {col.source_type} into PostgreSQL {col.pg_type} '
                "is converted by PostgreSQL from text",
            )
        kinds.append(kind)
    return EncodingChoice.binary(kinds)

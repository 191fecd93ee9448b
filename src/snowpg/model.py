"""Plain data passed between the stages: what the source has, how a table maps, how it is cut.

Everything here is frozen and free of I/O so plans can be printed, compared and unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from snowpg.errors import ConfigError
from snowpg.typefamilies import NUMBER_TYPES, TEXT_TYPES, base_type


@dataclass(frozen=True)
class SourceColumn:
    """A column as Snowflake's information_schema describes it."""

    name: str  # exact Snowflake name, e.g. "PAYER_ID" or "Payer Id"
    data_type: str  # information_schema.columns.data_type: NUMBER, TEXT, TIMESTAMP_NTZ, ...
    precision: int | None = None
    scale: int | None = None
    length: int | None = None  # character_maximum_length for text/binary
    nullable: bool = True
    position: int = 0

    @property
    def sql_type(self) -> str:
        """The Snowflake type spelled for a CAST (e.g. ``NUMBER(38,2)``, ``VARCHAR``)."""
        t = self.data_type.upper()
        if base_type(t) in NUMBER_TYPES and self.precision is not None:
            return f"NUMBER({self.precision},{self.scale or 0})"
        if base_type(t) in TEXT_TYPES:
            return "VARCHAR"
        return t


@dataclass(frozen=True)
class SourceTable:
    database: str
    schema: str
    name: str
    columns: tuple[SourceColumn, ...]
    primary_key: tuple[str, ...] = ()
    row_count: int | None = None
    kind: str = "BASE TABLE"  # information_schema.tables.table_type: BASE TABLE, VIEW, ...
    bytes: int | None = None  # information_schema.tables.bytes (None for views)
    retention_days: int | None = None  # Time Travel retention (information_schema RETENTION_TIME)

    def column(self, name: str) -> SourceColumn | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None

    @property
    def qualified(self) -> str:
        return f"{self.database}.{self.schema}.{self.name}"


@dataclass(frozen=True)
class TargetColumn:
    """A column of an existing PostgreSQL table."""

    name: str
    pg_type: str  # format_type() text, e.g. "numeric(38,0)", "timestamp with time zone"
    nullable: bool = True


@dataclass(frozen=True)
class ColumnMapping:
    """One source column loaded into one target column."""

    source: str  # exact Snowflake column name
    target: str  # exact PostgreSQL column name
    source_type: str  # SourceColumn.data_type
    pg_type: str  # type of the target column (created or existing)


@dataclass(frozen=True)
class ChunkRange:
    """Which rows of a table belong to one chunk; stored as ``chunk_range`` JSONB.

    Rows satisfy ``lower <= key < upper`` in Snowflake's order of the key tuple; a missing bound is
    open. ``nulls`` marks the one chunk that holds rows with NULL in any key column. With no
    ``columns`` the chunk is the whole table. Bound values are text, cast back to ``types`` in SQL,
    so no precision is lost through JSON.
    """

    columns: tuple[str, ...] = ()
    types: tuple[str, ...] = ()  # Snowflake SQL types for CAST, parallel to columns
    lower: tuple[str, ...] | None = None  # inclusive
    upper: tuple[str, ...] | None = None  # exclusive
    nulls: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "types": list(self.types),
            "lower": list(self.lower) if self.lower is not None else None,
            "upper": list(self.upper) if self.upper is not None else None,
            "nulls": self.nulls,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChunkRange:
        lower = data.get("lower")
        upper = data.get("upper")
        return cls(
            columns=tuple(data.get("columns") or ()),
            types=tuple(data.get("types") or ()),
            lower=tuple(lower) if lower is not None else None,
            upper=tuple(upper) if upper is not None else None,
            nulls=bool(data.get("nulls", False)),
        )


@dataclass(frozen=True)
class Chunk:
    chunk_id: int
    range: ChunkRange
    estimated_rows: int


@dataclass(frozen=True)
class TablePlan:
    """Everything needed to load one table, decided before anything is written."""

    source_name: str
    source: SourceTable
    target_database: str
    target_schema: str
    target_table: str
    mappings: tuple[ColumnMapping, ...]
    chunks: tuple[Chunk, ...]
    create_target: bool  # True when snowpg creates the target table
    target_primary_key: tuple[str, ...] = ()  # target column names, used when creating
    skipped_source_columns: tuple[str, ...] = ()  # in source, not in the existing target
    unfilled_target_columns: tuple[str, ...] = ()  # in the existing target, not in the source
    source_filter: str | None = None
    chunking_method: str = "range"  # "range", "whole-table"
    parallel_threads: int = 1
    batch_size: int = 100_000
    truncate_onstart: bool = False
    disable_index: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    nul_policy: str = "fail"  # settings.nul_policy_for(table) at plan time
    copy_format: str = "auto"  # settings.copy_format_for(table) at plan time
    # Incremental load settings and watermark window (snowpg.plan.watermark); None = full load.
    incremental: dict[str, Any] | None = None

    @property
    def estimated_rows(self) -> int:
        return sum(c.estimated_rows for c in self.chunks)


@dataclass(frozen=True)
class NulPolicy:
    """What to do with U+0000 in text: ``fail``, ``strip``, or ``replace`` with ``replacement``."""

    action: Literal["fail", "strip", "replace"]
    replacement: str = ""


def parse_nul_policy(text: str) -> NulPolicy:
    """``"fail"``, ``"strip"`` or ``"replace:<char>"`` as a :class:`NulPolicy`."""
    if text == "fail":
        return NulPolicy("fail")
    if text == "strip":
        return NulPolicy("strip")
    if text.startswith("replace:"):
        repl = text.removeprefix("replace:")
        if repl and "\x00" not in repl:
            return NulPolicy("replace", repl)
    raise ConfigError(
        f"nul_policy {text!r} is not valid",
        hint='use "fail", "strip" or "replace:<char>" (for example "replace:?")',
        field="nul_policy",
    )

"""One table of a source: what to copy from Snowflake, where it lands, and how it is chunked."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from snowpg.config.fields import (
    ColumnList,
    NonEmpty,
    StrictModel,
    blank_to_none,
    check_nul_policy,
    check_pg_name_length,
    problem,
)
from snowpg.names import shorten
from snowpg.sqltext import filter_problem

# Documented in docs/configuration.md; compared lower-case.
CHUNKING_COLUMN_TYPES = (
    "varchar", "varchar_numeric", "text", "string", "char", "uuid",
    "int", "integer", "bigint", "smallint", "number", "numeric", "decimal", "float", "double",
    "date", "timestamp", "timestamp_ntz", "timestamp_ltz", "timestamp_tz", "datetime",
)  # fmt: skip


class TableConfig(StrictModel):
    enabled: bool = True
    source: NonEmpty
    target: NonEmpty | None = None
    source_filter: str | None = None
    chunking_columns: ColumnList | None = None
    chunking_column_types: list[str] | None = None
    # The existing tool's source -> target column renames (plan/columns.py applies them).
    column_mapping: dict[NonEmpty, NonEmpty] | None = None
    uniqueness_columns: ColumnList | None = None
    source_watermark: str | None = None
    target_watermark: str | None = None
    truncate_onstart: bool = False
    disable_index: bool = False
    parallel_threads: int | None = Field(default=None, ge=1, le=64)
    batch_size: int | None = Field(default=None, ge=1)
    max_chunk_mb: float | None = Field(default=None, gt=0)
    insert_only_mode: bool | None = None
    nul_policy: str | None = None  # U+0000 in text: "fail" | "strip" | "replace:<char>"
    copy_format: Literal["auto", "csv"] | None = None
    _identifier_case: str = PrivateAttr(default="lower")  # set from Settings.identifier_case
    # Incremental loads (docs/incremental.md): remove or flag target rows gone from the source.
    detect_deletes: bool = False
    delete_mode: Literal["delete", "flag"] = "delete"
    deleted_flag_column: str | None = None

    @field_validator(
        "source_filter",
        "source_watermark",
        "target_watermark",
        "deleted_flag_column",
        mode="before",
    )
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return blank_to_none(value)

    @field_validator("target", "target_watermark", "deleted_flag_column")
    @classmethod
    def _pg_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_pg_name_length(value, str(info.field_name))

    @field_validator("source_filter")
    @classmethod
    def _filter(cls, value: str | None) -> str | None:
        found = filter_problem(value) if value is not None else None
        if found is not None:
            raise problem(
                f"source_filter {value!r} cannot be used: {found}; write one condition "
                "whose parentheses balance, without comments or ';'"
            )
        return value

    @field_validator("source", mode="before")
    @classmethod
    def _quoted_source(cls, value: Any) -> Any:
        # The existing tool's configs write a lower-case Snowflake table as "\"name\"": the
        # quoted identifier, matched exactly (catalog.describe_table tries the exact name first).
        if isinstance(value, str):
            text = value.strip()
            if len(text) > 2 and text[0] == text[-1] == '"':
                return text[1:-1].replace('""', '"')
        return value

    @field_validator("nul_policy")
    @classmethod
    def _nul_policy(cls, value: str | None) -> str | None:
        return check_nul_policy(value) if value is not None else None

    @field_validator(
        "chunking_columns", "chunking_column_types", "uniqueness_columns", mode="before"
    )
    @classmethod
    def _empty_list(cls, value: Any) -> Any:
        return None if value == [] else value

    @field_validator("chunking_column_types")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        bad = [v for v in value if v.lower() not in CHUNKING_COLUMN_TYPES]
        if bad:
            raise problem(
                f"unknown chunking column type {bad[0]!r}; "
                f"use one of {', '.join(CHUNKING_COLUMN_TYPES)}"
            )
        return [v.lower() for v in value]

    @model_validator(mode="after")
    def _chunking(self) -> TableConfig:
        cols, types = self.chunking_columns, self.chunking_column_types
        if cols is not None and len(set(cols)) != len(cols):
            raise problem(f"chunking_columns of table {self.source} name a column twice: {cols}")
        if types is not None and cols is None:
            raise problem(
                f"table {self.source} has chunking_column_types but no chunking_columns; "
                "add chunking_columns or remove chunking_column_types"
            )
        if types is not None and cols is not None and len(types) != len(cols):
            raise problem(
                f"table {self.source} has {len(cols)} chunking_columns but {len(types)} "
                "chunking_column_types; give one type per chunking column (same order)"
            )
        if self.delete_mode == "flag" and self.deleted_flag_column is None:
            raise problem(
                f'table {self.source} has "delete_mode": "flag" but no deleted_flag_column; '
                "name the boolean target column that marks deleted rows"
            )
        return self

    def use_identifier_case(self, identifier_case: str) -> None:
        """Settings tells each table its ``identifier_case``, which decides the default target."""
        self._identifier_case = identifier_case

    @property
    def target_name(self) -> str:
        """``target``, else the source name lower-cased (``identifier_case`` "lower") or exact
        ("preserve"); shortened to 63 bytes with a hash suffix if longer (docs/types.md)."""
        if self.target is not None:
            return self.target
        name = self.source if self._identifier_case == "preserve" else self.source.lower()
        return shorten(name, full_name=self.source)

"""The whole configuration (``Settings``): defaults, per-table overrides, and the config hash.

The config hash names the fields that decide which rows land where, so a resumed run under a
changed config is noticed (docs/configuration.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from snowpg.config.connections import PostgresSettings, SnowflakeSettings
from snowpg.config.fields import (
    StrictModel,
    blank_to_none,
    check_nul_policy,
    match_name,
    problem,
    split_names,
)
from snowpg.config.sources import SourceConfig
from snowpg.config.tables import TableConfig
from snowpg.errors import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Bumped when the hashed shape changes, so an old run is never matched by accident.
_HASH_VERSION = 1


class Settings(StrictModel):
    snowflake: SnowflakeSettings
    postgres: PostgresSettings
    parallel_threads: int = Field(default=4, ge=1, le=64)
    batch_size: int = Field(default=20_000, ge=1)
    # Chunks hold fewer than batch_size rows when their rows would exceed this (plan/sizing.py).
    max_chunk_mb: float = Field(default=8, gt=0)
    max_retry_attempts: int = Field(default=3, ge=0)
    lambda_timeout_buffer_seconds: int = Field(default=90, ge=0)
    insert_only_mode: bool = False
    lease_seconds: int = Field(default=300, ge=1)
    retry_backoff_seconds: float = Field(default=1.0, ge=0)
    log_level: str = "INFO"
    migration_version: str | None = None
    nul_policy: str = "fail"  # a table may override
    # "auto": binary COPY where every column has a binary encoder, else CSV; "csv": always CSV.
    copy_format: Literal["auto", "csv"] = "auto"
    # "lower": names without lower-case letters become lower-case; "preserve": exact names.
    identifier_case: Literal["lower", "preserve"] = "lower"
    sources: Annotated[list[SourceConfig], Field(min_length=1)]

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        level = value.strip().upper()
        level = "WARNING" if level == "WARN" else level
        if level not in LOG_LEVELS:
            raise problem(f"log_level {value!r} is not one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("nul_policy")
    @classmethod
    def _nul_policy(cls, value: str) -> str:
        return check_nul_policy(value)

    @field_validator("migration_version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        return blank_to_none(value)

    @model_validator(mode="after")
    def _table_names(self) -> Settings:
        for i, src in enumerate(self.sources):
            src.use_identifier_case(self.identifier_case)
            clash = src.target_clash()
            if clash is not None:
                raise problem(f"sources[{i}]: {clash}")
        return self

    @model_validator(mode="after")
    def _unique_sources(self) -> Settings:
        seen: set[str] = set()
        for s in self.sources:
            if s.source_name.lower() in seen:
                raise problem(f"source_name {s.source_name!r} is used by two sources; rename one")
            seen.add(s.source_name.lower())
        return self

    def source(self, name: str) -> SourceConfig:
        found = match_name(name, [s.source_name for s in self.sources])
        if found is None:
            known = ", ".join(s.source_name for s in self.sources)
            raise ConfigError(
                f"unknown source {name!r}; known sources: {known}", field="source_name"
            )
        return next(s for s in self.sources if s.source_name == found)

    def select_sources(self, names: str | Sequence[str] | None) -> list[SourceConfig]:
        """Named sources (enabled or not) in the order given; with no names, the enabled ones."""
        wanted = split_names(names)
        if not wanted:
            return [s for s in self.sources if s.enabled]
        out: list[SourceConfig] = []
        for name in wanted:
            src = self.source(name)
            if src not in out:
                out.append(src)
        return out

    def threads_for(self, table: TableConfig) -> int:
        return (
            table.parallel_threads if table.parallel_threads is not None else self.parallel_threads
        )

    def batch_size_for(self, table: TableConfig) -> int:
        return table.batch_size if table.batch_size is not None else self.batch_size

    def max_chunk_mb_for(self, table: TableConfig) -> float:
        return table.max_chunk_mb if table.max_chunk_mb is not None else self.max_chunk_mb

    def insert_only_for(self, table: TableConfig) -> bool:
        return (
            table.insert_only_mode if table.insert_only_mode is not None else self.insert_only_mode
        )

    def nul_policy_for(self, table: TableConfig) -> str:
        return table.nul_policy if table.nul_policy is not None else self.nul_policy

    def copy_format_for(self, table: TableConfig) -> str:
        return table.copy_format if table.copy_format is not None else self.copy_format

    def target_table_name(self, table: TableConfig) -> str:
        """The PostgreSQL table name: ``target``, else the source name under ``identifier_case``."""
        table.use_identifier_case(self.identifier_case)
        return table.target_name

    def secrets(self) -> list[str]:
        """Every secret value, for ``snowpg.logs.register_secrets``."""
        values = [
            self.snowflake.password,
            self.snowflake.rsa_key,
            self.snowflake.rsa_key_passphrase,
            self.postgres.password,
        ]
        return [v.get_secret_value() for v in values if v is not None]

    def config_hash(self, source: SourceConfig) -> str:
        """sha256 hex over the fields of ``source`` that shape its data (docs/configuration.md)."""
        return config_hash(self, source)


def config_hash(settings: Settings, source: SourceConfig) -> str:
    """sha256 hex over the fields of ``source`` that decide which rows land where.

    Covered: Snowflake database/schema, PostgreSQL database/schema, and for each enabled table its
    source, target, source_filter, chunking columns and types, uniqueness columns, watermarks,
    truncate_onstart, disable_index and effective insert-only mode; for a discovering source its
    patterns, include_views and the names of disabled entries (not the tables the schema holds at
    the time, so the hash is a function of the config text). Not covered: credentials,
    hosts, threads, batch size, retries, leases, log level. Tables are sorted and keys canonical,
    so reordering the file does not change the hash.
    """
    tables = [
        {
            "source": t.source,
            "target": settings.target_table_name(t),
            "source_filter": t.source_filter,
            "chunking_columns": t.chunking_columns,
            "chunking_column_types": t.chunking_column_types,
            "uniqueness_columns": t.uniqueness_columns,
            "source_watermark": t.source_watermark,
            "target_watermark": t.target_watermark,
            "truncate_onstart": t.truncate_onstart,
            "disable_index": t.disable_index,
            "insert_only": settings.insert_only_for(t),
            # Only when set, so configs without it keep the hash of their earlier runs.
            **({"column_mapping": t.column_mapping} if t.column_mapping else {}),
        }
        for t in source.tables
        if t.enabled
    ]
    tables.sort(key=lambda d: (str(d["target"]), str(d["source"])))
    shape = {
        "version": _HASH_VERSION,
        "source_sf_database": source.source_sf_database,
        "source_sf_schema": source.source_sf_schema,
        "target_pg_database": source.target_pg_database,
        "target_pg_schema": source.target_pg_schema,
        "tables": tables,
    }
    if source.discovers:  # absent for explicit lists, so their hashes stay as they were
        shape["discover"] = {
            "include_tables": sorted({p.upper() for p in source.include_tables or []}),
            "exclude_tables": sorted({p.upper() for p in source.exclude_tables or []}),
            "include_views": source.include_views,
            # A disabled entry leaves a discovered table out, which changes the data.
            "disabled": sorted(t.source for t in source.tables if not t.enabled),
        }
    if settings.identifier_case != "lower":  # absent when default, so older hashes still match
        shape["identifier_case"] = settings.identifier_case
    text = json.dumps(shape, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

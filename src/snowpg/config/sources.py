"""One source: a Snowflake schema copied into one PostgreSQL schema, and its tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from snowpg.config.fields import (
    NonEmpty,
    StrictModel,
    check_pg_name_length,
    match_name,
    split_names,
)
from snowpg.config.tables import TableConfig
from snowpg.errors import ConfigError


class SourceConfig(StrictModel):
    source_name: NonEmpty
    enabled: bool = True
    source_sf_database: NonEmpty
    source_sf_schema: NonEmpty
    target_pg_database: NonEmpty
    target_pg_schema: NonEmpty
    # None: the top-level max_snowflake_queries (Settings.max_snowflake_queries_for).
    max_snowflake_queries: int | None = Field(default=None, ge=0, le=1000)
    tables: Annotated[list[TableConfig], Field(min_length=1)]

    @field_validator("target_pg_database", "target_pg_schema")
    @classmethod
    def _pg_name(cls, value: str, info: ValidationInfo) -> str:
        check_pg_name_length(value, str(info.field_name))
        return value

    def target_clash(self) -> str | None:
        """Two tables loading into one PostgreSQL table, as a message, else None. Settings asks
        once every table knows its ``identifier_case``, which decides the default target names."""
        seen: dict[str, str] = {}
        for t in self.tables:
            if t.target_name in seen:
                return (
                    f"source {self.source_name!r}: tables {seen[t.target_name]} and {t.source} "
                    f"both load into {self.target_pg_schema}.{t.target_name}; "
                    "give one of them another 'target'"
                )
            seen[t.target_name] = t.source
        return None

    def table(self, name: str) -> TableConfig:
        """The table whose ``source`` is ``name`` (exact, then ignoring case)."""
        found = match_name(name, [t.source for t in self.tables])
        if found is None:
            raise ConfigError(
                f"unknown table {name!r} in source {self.source_name!r}; "
                f"known tables: {', '.join(t.source for t in self.tables)}",
                table=name,
            )
        return next(t for t in self.tables if t.source == found)

    def select_tables(self, tables_filter: Sequence[str] | str | None) -> list[TableConfig]:
        """Enabled tables, in config order, limited to the source names in ``tables_filter``.

        An empty filter means every enabled table. Naming an unknown or a disabled table is an
        error, so a typo never silently migrates nothing.
        """
        wanted = split_names(tables_filter)
        if not wanted:
            return [t for t in self.tables if t.enabled]
        chosen: set[str] = set()
        for name in wanted:
            table = self.table(name)
            if not table.enabled:
                raise ConfigError(
                    f"table {table.source!r} of source {self.source_name!r} is disabled; "
                    'set "enabled": true for it in config.json or leave it out of the filter',
                    table=table.source,
                )
            chosen.add(table.source)
        return [t for t in self.tables if t.enabled and t.source in chosen]

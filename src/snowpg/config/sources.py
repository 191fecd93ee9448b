"""One source: a Snowflake schema copied into one PostgreSQL schema, and its tables.

A source lists its tables explicitly (``tables``), or takes them from the Snowflake schema at run
time (``"tables": "*"``, ``include_tables`` / ``exclude_tables`` patterns, ``include_views``), or
both: explicit entries then override the discovered tables of the same name
(:mod:`snowpg.config.discover` expands the patterns).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from snowpg.config.fields import (
    NonEmpty,
    StrictModel,
    check_pg_name_length,
    match_name,
    problem,
    split_names,
)
from snowpg.config.tables import TableConfig
from snowpg.errors import ConfigError

ALL_TABLES = "*"
# An unknown-table error names at most this many known tables.
_NAMES_SHOWN = 20


class SourceConfig(StrictModel):
    source_name: NonEmpty
    enabled: bool = True
    source_sf_database: NonEmpty
    source_sf_schema: NonEmpty
    target_pg_database: NonEmpty
    target_pg_schema: NonEmpty
    # Explicit entries; "tables": "*" arrives here as [] plus include_tables ["*"].
    tables: list[TableConfig] = Field(default_factory=list)
    include_tables: list[NonEmpty] | None = None  # glob patterns, matched ignoring case
    exclude_tables: list[NonEmpty] | None = None
    include_views: bool = False
    _identifier_case: str = PrivateAttr(default="lower")

    @model_validator(mode="before")
    @classmethod
    def _all_tables(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("tables"), str):
            return data
        if data["tables"].strip() != ALL_TABLES:
            raise problem(
                f'"tables" is {data["tables"]!r}: write a list of table objects, or "*" for '
                "every table of the Snowflake schema"
            )
        include = data.get("include_tables")
        out = {**data, "tables": []}
        if include is None or include == []:
            out["include_tables"] = [ALL_TABLES]
        elif isinstance(include, list) and ALL_TABLES not in include:
            out["include_tables"] = [ALL_TABLES, *include]
        return out

    @field_validator("include_tables", "exclude_tables", mode="before")
    @classmethod
    def _empty_patterns(cls, value: Any) -> Any:
        return None if value == [] else value

    @field_validator("target_pg_database", "target_pg_schema")
    @classmethod
    def _pg_name(cls, value: str, info: ValidationInfo) -> str:
        check_pg_name_length(value, str(info.field_name))
        return value

    @model_validator(mode="after")
    def _some_tables(self) -> SourceConfig:
        where = f"{self.source_sf_database}.{self.source_sf_schema}"
        if not self.tables and not self.include_tables:
            raise problem(
                f'source {self.source_name!r} names no table: list them in "tables", or write '
                f'"tables": "*" (or "include_tables": [patterns]) to copy the tables of {where}'
            )
        if not self.include_tables:
            for key in ("exclude_tables", "include_views"):
                if getattr(self, key):
                    raise problem(
                        f"source {self.source_name!r} has {key!r} but discovers no tables: add "
                        f'"include_tables": [patterns] or write "tables": "*", or remove {key!r}'
                    )
        return self

    @property
    def discovers(self) -> bool:
        """True when the source takes (some of) its tables from the Snowflake schema, so its
        table list needs the schema's catalog (:func:`snowpg.config.discover.expand`)."""
        return bool(self.include_tables)

    @property
    def identifier_case(self) -> str:
        return self._identifier_case

    def use_identifier_case(self, identifier_case: str) -> None:
        """Settings tells the source (and each table) its ``identifier_case``."""
        self._identifier_case = identifier_case
        for t in self.tables:
            t.use_identifier_case(identifier_case)

    def target_clash(self) -> str | None:
        """Two tables loading into one PostgreSQL table, as a message, else None. Settings asks
        once every table knows its ``identifier_case``, which decides the default target names."""
        return target_clash(self.source_name, self.target_pg_schema, self.tables)

    def table(self, name: str) -> TableConfig:
        """The table whose ``source`` is ``name`` (exact, then ignoring case)."""
        return find_table(self.source_name, self.tables, name)

    def select_tables(self, tables_filter: Sequence[str] | str | None) -> list[TableConfig]:
        """Enabled explicit tables, in config order, limited to the source names in
        ``tables_filter``. A discovering source's full list needs its catalog:
        ``snowpg.plan.discovery.resolve_tables``."""
        return choose_tables(self.source_name, self.tables, tables_filter)


def target_clash(source_name: str, schema: str, tables: Sequence[TableConfig]) -> str | None:
    """Two enabled or disabled tables loading into one PostgreSQL table, as a message."""
    seen: dict[str, str] = {}
    for t in tables:
        if t.target_name in seen:
            return (
                f"source {source_name!r}: tables {seen[t.target_name]} and {t.source} "
                f"both load into {schema}.{t.target_name}; give one of them another 'target'"
            )
        seen[t.target_name] = t.source
    return None


def find_table(source_name: str, tables: Sequence[TableConfig], name: str) -> TableConfig:
    found = match_name(name, [t.source for t in tables])
    if found is None:
        known = [t.source for t in tables]
        shown = ", ".join(known[:_NAMES_SHOWN])
        if len(known) > _NAMES_SHOWN:
            shown += f" and {len(known) - _NAMES_SHOWN} more"
        raise ConfigError(
            f"unknown table {name!r} in source {source_name!r}; known tables: {shown or 'none'}",
            table=name,
        )
    return next(t for t in tables if t.source == found)


def choose_tables(
    source_name: str, tables: Sequence[TableConfig], tables_filter: Sequence[str] | str | None
) -> list[TableConfig]:
    """Enabled ``tables``, in their order, limited to the source names in ``tables_filter``.

    An empty filter means every enabled table. Naming an unknown or a disabled table is an
    error, so a typo never silently migrates nothing.
    """
    wanted = split_names(tables_filter)
    if not wanted:
        return [t for t in tables if t.enabled]
    chosen: set[str] = set()
    for name in wanted:
        table = find_table(source_name, tables, name)
        if not table.enabled:
            raise ConfigError(
                f"table {table.source!r} of source {source_name!r} is disabled; "
                'set "enabled": true for it in config.json or leave it out of the filter',
                table=table.source,
            )
        chosen.add(table.source)
    return [t for t in tables if t.enabled and t.source in chosen]

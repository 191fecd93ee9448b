"""A source's tables for a run: its explicit entries plus, for a discovering source
(``"tables": "*"``, ``include_tables``), the tables its Snowflake schema holds.

Discovery reads the schema's catalog (:func:`snowpg.snowflake.schema_catalog.describe_schema`, one
statement for the whole schema) and expands the patterns with the pure rules of
:mod:`snowpg.config.discover`. A source without patterns needs no catalog and costs no query here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Sequence

from snowpg.config import Settings, SourceConfig, TableConfig
from snowpg.config.discover import Expansion, describe_patterns, expand
from snowpg.config.sources import choose_tables
from snowpg.errors import ConfigError
from snowpg.snowflake import session
from snowpg.snowflake.schema_catalog import SchemaCatalog, describe_schema

log = logging.getLogger("snowpg.plan.discovery")


def discover(
    source: SourceConfig, catalog: SchemaCatalog, fixed: Collection[str] | None = None
) -> Expansion:
    """Every table of ``source`` (enabled or not) given the schema's ``catalog``.

    ``fixed``: the tables a run recorded when it was created; discovered tables outside it (made
    in Snowflake after the run started) are left to the next run. Explicit entries are kept.
    Patterns that match nothing are logged as warnings; ConfigError when nothing is left at all.
    """
    names = [(t.name, t.kind) for t in catalog.tables.values()]
    found = expand(source, names)
    if not source.discovers:
        return found
    for pattern in found.unmatched:
        what = "matches no table of"
        if pattern not in (source.include_tables or []):
            what = "(exclude_tables) matches none of the tables include_tables takes from"
        log.warning(
            "source %s: pattern %r %s %s.%s",
            source.source_name,
            pattern,
            what,
            catalog.database,
            catalog.schema,
        )
    if found.skipped_views:
        log.info(
            'source %s: %d view(s) skipped (set "include_views": true to copy them): %s',
            source.source_name,
            len(found.skipped_views),
            ", ".join(found.skipped_views),
        )
    if fixed is not None:
        found = _within(found, fixed, source)
    if not any(t.enabled for t in found.tables):
        where = f"{catalog.database}.{catalog.schema}"
        raise ConfigError(
            f"source {source.source_name!r}: no table to copy: {describe_patterns(source)} "
            f"found nothing among the {len(catalog.tables)} table(s) and view(s) of {where}",
            hint='check include_tables / exclude_tables, or "include_views": true for views',
            field=f"sources.{source.source_name}.include_tables",
        )
    return found


def resolve_tables(
    source: SourceConfig,
    catalog: SchemaCatalog,
    tables_filter: Sequence[str] | str | None = None,
    *,
    fixed: Collection[str] | None = None,
) -> list[TableConfig]:
    """The enabled tables of a run of ``source``, limited to ``tables_filter`` (source names,
    ignoring case; an unknown or disabled name is a ConfigError), as ``select_tables`` gives
    them for a source that lists its tables. ``catalog`` is the schema's, already fetched."""
    tables = discover(source, catalog, fixed).tables
    return choose_tables(source.source_name, tables, tables_filter)


def with_tables(
    source: SourceConfig, catalog: SchemaCatalog, fixed: Collection[str] | None = None
) -> SourceConfig:
    """``source`` with its discovered tables written out as explicit entries and no patterns,
    for code that reads ``source.tables``. Hash the original source, not this one: the config
    hash follows the config text, not the schema's contents."""
    if not source.discovers:
        return source
    tables = discover(source, catalog, fixed).tables
    out = source.model_copy(
        update={"tables": tables, "include_tables": None, "exclude_tables": None}
    )
    out.use_identifier_case(source.identifier_case)
    return out


def with_names(source: SourceConfig, names: Sequence[str]) -> SourceConfig:
    """``source`` with the tables a run recorded when it was created (``discovered_tables``):
    no catalog needed, and tables made in Snowflake since are left to the next run."""
    if not source.discovers:
        return source
    tables = expand(source, [(n, "BASE TABLE") for n in names]).tables
    out = source.model_copy(
        update={"tables": tables, "include_tables": None, "exclude_tables": None}
    )
    out.use_identifier_case(source.identifier_case)
    return out


def fetch_catalog(settings: Settings, source: SourceConfig) -> SchemaCatalog:
    """The catalog of ``source``'s Snowflake schema: one connection, one statement."""
    conn = session.connect(
        settings.snowflake, database=source.source_sf_database, schema=source.source_sf_schema
    )
    with contextlib.closing(conn):
        return describe_schema(conn, source.source_sf_database, source.source_sf_schema)


def resolve_source(settings: Settings, source: SourceConfig) -> SourceConfig:
    """:func:`with_tables` after fetching the catalog; a source that lists its tables is
    returned as it is, without connecting."""
    if not source.discovers:
        return source
    return with_tables(source, fetch_catalog(settings, source))


def _within(found: Expansion, fixed: Collection[str], source: SourceConfig) -> Expansion:
    upper = {n.upper() for n in fixed}
    explicit = {t.source for t in source.tables}
    late = [n for n in found.discovered if n.upper() not in upper]
    if not late:
        return found
    log.warning(
        "source %s: %d table(s) appeared after the run started and are left to the next run: %s",
        source.source_name,
        len(late),
        ", ".join(late),
    )
    kept = [t for t in found.tables if t.source in explicit or t.source.upper() in upper]
    return Expansion(
        kept,
        [n for n in found.discovered if n.upper() in upper],
        found.skipped_views,
        found.excluded,
        found.unmatched,
    )

"""A discovering source's tables from the names in its Snowflake schema. Pure: no I/O.

Rules (docs/configuration.md "Discovered tables"): a schema object is taken when its name matches
an ``include_tables`` pattern and no ``exclude_tables`` pattern (glob patterns, ``*`` ``?``
``[...]``, compared ignoring case) and it is a table, or a view with ``include_views``. An explicit
entry in ``tables`` always wins over a discovered table of the same name (exact, else ignoring
case): its settings apply, ``"enabled": false`` leaves the table out, and it is kept even when a
pattern excludes it. The result is the explicit entries in config order, then the discovered
tables by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from snowpg.config.sources import SourceConfig, target_clash
from snowpg.config.tables import TableConfig
from snowpg.errors import ConfigError

VIEW = "VIEW"


@dataclass(frozen=True)
class Expansion:
    """What discovery made of one schema's names."""

    tables: list[TableConfig]  # explicit entries, then the discovered tables
    discovered: list[str] = field(default_factory=list)  # names taken from the schema
    skipped_views: list[str] = field(default_factory=list)  # matched but views (no include_views)
    excluded: list[str] = field(default_factory=list)  # matched an exclude pattern
    unmatched: list[str] = field(default_factory=list)  # include/exclude patterns matching nothing


def matches(name: str, patterns: Iterable[str]) -> bool:
    """True when ``name`` matches one of the glob ``patterns``, ignoring case."""
    folded = name.upper()
    return any(fnmatchcase(folded, p.upper()) for p in patterns)


def expand(source: SourceConfig, names_and_kinds: Iterable[tuple[str, str]]) -> Expansion:
    """The tables of ``source`` given the schema's ``(name, kind)`` pairs (kind ``BASE TABLE``,
    ``VIEW``, ...). A source that does not discover gets its explicit entries unchanged.

    ConfigError when two tables would load into one PostgreSQL table.
    """
    explicit = list(source.tables)
    if not source.discovers:
        return Expansion(explicit)
    include = source.include_tables or []
    exclude = source.exclude_tables or []
    schema = sorted(names_and_kinds)
    claimed = _claimed([name for name, _ in schema], [t.source for t in explicit])
    used: set[str] = set()
    discovered: list[str] = []
    views: list[str] = []
    excluded: list[str] = []
    for name, kind in schema:
        hit = [p for p in include if matches(name, [p])]
        if not hit:
            continue
        used.update(hit)
        dropped_by = [p for p in exclude if matches(name, [p])]
        used.update(dropped_by)
        if name in claimed:
            continue  # the explicit entry stands for it
        if dropped_by:
            excluded.append(name)
        elif kind.upper() == VIEW and not source.include_views:
            views.append(name)
        else:
            discovered.append(name)
    found = [_discovered_table(name, source.identifier_case) for name in discovered]
    tables = explicit + found
    clash = target_clash(source.source_name, source.target_pg_schema, tables)
    if clash is not None:
        raise ConfigError(
            f"{clash} (discovered in {source.source_sf_database}.{source.source_sf_schema})",
            hint="add an explicit entry with another 'target' for one of them, or exclude it "
            "with exclude_tables",
            field=f"sources.{source.source_name}.tables",
        )
    unmatched = [p for p in [*include, *exclude] if p not in used]
    return Expansion(tables, discovered, views, excluded, unmatched)


def _claimed(names: Sequence[str], explicit: Sequence[str]) -> set[str]:
    """The schema names the explicit entries stand for: the exact name, else the one name
    equal ignoring case (as the catalog finds a table)."""
    out: set[str] = set()
    for entry in explicit:
        if entry in names:
            out.add(entry)
            continue
        folded = [n for n in names if n.upper() == entry.upper()]
        if len(folded) == 1:
            out.add(folded[0])
    return out


def discovered_tables(
    source: SourceConfig, names_and_kinds: Iterable[tuple[str, str]]
) -> list[TableConfig]:
    """Every table of ``source`` (explicit and discovered); see :func:`expand`."""
    return expand(source, names_and_kinds).tables


def _discovered_table(name: str, identifier_case: str) -> TableConfig:
    # model_construct, not validation: a catalog name is taken as it is stored (validation would
    # unquote a name that starts and ends with '"').
    table = TableConfig.model_construct(source=name)
    table.use_identifier_case(identifier_case)
    return table


def describe_patterns(source: SourceConfig) -> str:
    """``include_tables`` / ``exclude_tables`` / views as one phrase for messages."""
    parts = [f"tables matching {', '.join(_quoted(source.include_tables or []))}"]
    if source.exclude_tables:
        parts.append(f"except {', '.join(_quoted(source.exclude_tables))}")
    parts.append("views included" if source.include_views else "views skipped")
    return " ".join(parts[:-1]) + f" ({parts[-1]})"


def _quoted(patterns: Sequence[str]) -> list[str]:
    return [f'"{p}"' for p in patterns]

"""Which source column loads into which target column. Pure.

For a table snowpg creates, every source column gets a target column named by
:func:`snowpg.names.target_identifier` and typed by :func:`snowpg.plan.typemap.pg_type_for`.
For an existing table, columns are matched by name: the exact name first, then the name snowpg
would create, then ignoring case, so ``PAYER_ID`` loads into ``payer_id``. Source columns without
a target are left out and target columns without a source keep their defaults; the plan lists
both.

``renames`` (a table's ``column_mapping``, and ``source_watermark`` -> ``target_watermark`` when
the names differ) send a source column to the target column of the given name, in a new table and
in an existing one alike; see :func:`renames_for`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from snowpg import names
from snowpg.errors import ConfigError
from snowpg.model import ColumnMapping, SourceTable, TargetColumn
from snowpg.plan import typemap
from snowpg.snowflake.catalog import check_columns_exist


@dataclass(frozen=True)
class ColumnMatch:
    mappings: tuple[ColumnMapping, ...]  # in source column order
    skipped_source: tuple[str, ...] = ()  # source columns with no target column
    unfilled_target: tuple[str, ...] = ()  # target columns no source column loads


def renames_for(table: Any) -> dict[str, str]:
    """Source -> target column renames of a TableConfig: ``column_mapping``, then the watermark
    pair when ``source_watermark`` and ``target_watermark`` differ (the existing tool's meaning)."""
    renames: dict[str, str] = dict(table.column_mapping or {})
    src, tgt = table.source_watermark, table.target_watermark
    if src and tgt and src != tgt and src not in renames:
        renames[src] = tgt
    return renames


def _check_renames(source: SourceTable, renames: Mapping[str, str]) -> None:
    check_columns_exist(source, list(renames), f"column_mapping of table {source.name}")
    seen: dict[str, str] = {}
    for src, tgt in renames.items():
        if tgt in seen:
            raise ConfigError(
                f'columns "{seen[tgt]}" and "{src}" of {source.qualified} are both renamed to '
                f'"{tgt}"',
                hint="give each source column its own target column in column_mapping",
                table=source.name,
                column=src,
            )
        seen[tgt] = src


def for_new_table(
    source: SourceTable,
    case: names.IdentifierCase = "lower",
    renames: Mapping[str, str] | None = None,
) -> ColumnMatch:
    """Every source column, renamed (``renames``, else the ``case`` policy) and typed for a table
    snowpg creates.

    Raises :class:`ConfigError` naming the table when two columns map to one PostgreSQL name.
    """
    renames = renames or {}
    _check_renames(source, renames)
    try:
        mapped = names.map_identifiers([c.name for c in source.columns], case)
    except ConfigError as exc:
        raise ConfigError(
            f"table {source.qualified}: {exc.message}",
            hint=exc.hint,
            table=source.name,
            column=exc.column,
        ) from None
    mapped.update(renames)
    owners: dict[str, str] = {}
    for col, name in mapped.items():
        if name in owners:
            raise ConfigError(
                f'table {source.qualified}: columns "{owners[name]}" and "{col}" would both load '
                f'into "{name}"',
                hint="change column_mapping (or target_watermark) so each target column has one "
                "source column",
                table=source.name,
                column=col,
            )
        owners[name] = col
    mappings = tuple(
        ColumnMapping(
            source=c.name,
            target=mapped[c.name],
            source_type=c.data_type,
            pg_type=typemap.pg_type_for(c),
        )
        for c in source.columns
    )
    return ColumnMatch(mappings=mappings)


def match_existing(
    source: SourceTable,
    target: Sequence[TargetColumn],
    case: names.IdentifierCase = "lower",
    renames: Mapping[str, str] | None = None,
) -> ColumnMatch:
    """Match source columns to the columns of an existing target table by name.

    Raises :class:`ConfigError` when a case-insensitive match is ambiguous or nothing matches,
    or a renamed column's target column does not exist.
    """
    renames = renames or {}
    _check_renames(source, renames)
    by_exact = {t.name: t for t in target}
    by_folded: dict[str, list[TargetColumn]] = {}
    for t in target:
        by_folded.setdefault(t.name.casefold(), []).append(t)

    # Renamed columns first, then exact names, so a source column's exact twin is never taken by
    # a case-folded match.
    chosen: dict[str, TargetColumn] = {}
    for src, tgt in renames.items():
        if tgt not in by_exact:
            raise ConfigError(
                f'column "{src}" of {source.qualified} is renamed to "{tgt}", which the '
                "existing target table lacks",
                hint=f'add column "{tgt}" to the target table, or fix column_mapping / '
                "target_watermark",
                table=source.name,
                column=src,
            )
        chosen[src] = by_exact[tgt]
    renamed_targets = set(renames.values())
    for c in source.columns:
        if c.name not in chosen and c.name in by_exact and c.name not in renamed_targets:
            chosen[c.name] = by_exact[c.name]
    claimed = {t.name: s for s, t in chosen.items()}
    for col in source.columns:
        if col.name in chosen:
            continue
        # The name snowpg gives a column it creates (shortened beyond 63 bytes) finds the
        # column again when the table was created by an earlier run.
        derived = by_exact.get(names.target_identifier(col.name, case))
        candidates = [derived] if derived else by_folded.get(col.name.casefold(), [])
        if len(candidates) > 1:
            listed = ", ".join(f'"{c.name}"' for c in candidates)
            raise ConfigError(
                f'source column "{col.name}" of {source.qualified} matches target columns '
                f"{listed} when case is ignored",
                hint=(
                    "rename the target columns so only one matches, or name the source column "
                    "exactly like one of them"
                ),
                table=source.name,
                column=col.name,
            )
        if not candidates or candidates[0].name in renamed_targets:
            continue  # left out (listed in the plan): a renamed column loads that target column
        hit = candidates[0]
        if hit.name in claimed:
            raise ConfigError(
                f'source columns "{claimed[hit.name]}" and "{col.name}" of {source.qualified} '
                f'both match target column "{hit.name}"',
                hint="rename one of them in Snowflake, or add a target column for each",
                table=source.name,
                column=col.name,
            )
        chosen[col.name] = hit
        claimed[hit.name] = col.name

    mappings = tuple(
        ColumnMapping(
            source=c.name,
            target=chosen[c.name].name,
            source_type=c.data_type,
            pg_type=chosen[c.name].pg_type,
        )
        for c in source.columns
        if c.name in chosen
    )
    skipped = tuple(c.name for c in source.columns if c.name not in chosen)
    if not mappings:
        raise ConfigError(
            f"no column of {source.qualified} matches a column of the existing target table",
            hint=(
                'check the table\'s "target" setting, or drop the target table and let snowpg '
                "create it"
            ),
            table=source.name,
        )
    unfilled = tuple(t.name for t in target if t.name not in claimed)
    return ColumnMatch(mappings=mappings, skipped_source=skipped, unfilled_target=unfilled)


def target_primary_key(source: SourceTable, match: ColumnMatch) -> tuple[str, ...]:
    """Target names of the source primary key columns; empty if any of them is not loaded."""
    targets = {m.source: m.target for m in match.mappings}
    if not source.primary_key or any(k not in targets for k in source.primary_key):
        return ()
    return tuple(targets[k] for k in source.primary_key)

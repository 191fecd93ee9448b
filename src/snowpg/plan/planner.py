"""The plan of one table: which columns load where and how the rows are cut into chunks.

Planning only reads: Snowflake's catalog and chunk boundaries (computed server side), and the
target's catalog. Every configuration mistake (unknown table or column, name collisions) surfaces
here, before anything is written. ``plan.preflight`` plans every selected table of a source.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from snowpg.config import Settings, SourceConfig, TableConfig
from snowpg.model import Chunk, SourceTable, TablePlan
from snowpg.plan import boundaries, columns, sizing, watermark
from snowpg.postgres import introspect
from snowpg.snowflake import catalog

log = logging.getLogger("snowpg.plan")


def plan_table(
    settings: Settings,
    source: SourceConfig,
    table: TableConfig,
    sf_conn: Any,
    pg_conn: Any,
    *,
    described: SourceTable | None = None,
    cut: bool = True,
) -> TablePlan:
    """Plan one table: introspect both sides, match columns, choose keys and compute chunks.

    ``described`` is the table as the schema's one catalog statement described it
    (:mod:`snowpg.snowflake.schema_catalog`); without it the table is described on its own.
    ``cut=False`` checks everything the catalogs can tell (tables, columns, names, keys) and
    asks Snowflake nothing: the plan has no chunks and no watermark window. An incremental
    table's plan copies the run's watermark window only and carries its upsert keys and
    delete-check chunks (:mod:`snowpg.plan.watermark`); ``snowpg plan`` and ``migrate`` both
    plan through here, so they show and refuse the same things.
    """
    src = described or catalog.describe_table(
        sf_conn, source.source_sf_database, source.source_sf_schema, table.source
    )
    if not cut:
        return _plan_rows(settings, source, table, src, None, pg_conn)
    if not watermark.is_incremental(table):
        return _plan_rows(settings, source, table, src, sf_conn, pg_conn)
    window = watermark.window_for(sf_conn, pg_conn, source, table, src)
    filtered = table.model_copy(update={"source_filter": window.source_filter})
    plan = _plan_rows(settings, source, filtered, src, sf_conn, pg_conn)
    pg_conn.rollback()
    return watermark.with_window(settings, sf_conn, table, plan, window)


def _plan_rows(
    settings: Settings,
    source: SourceConfig,
    table: TableConfig,
    src: SourceTable,
    sf_conn: Any,
    pg_conn: Any,
) -> TablePlan:
    """The columns, keys and chunks of the rows ``table``'s source filter selects."""
    target_table = settings.target_table_name(table)
    case = settings.identifier_case
    existing = introspect.table_columns(pg_conn, source.target_pg_schema, target_table)
    renames = columns.renames_for(table)
    if existing is None:
        match = columns.for_new_table(src, case, renames)
        target_pk = columns.target_primary_key(src, match)
    else:
        match = columns.match_existing(src, existing, case, renames)
        target_pk = ()
    _check_configured_columns(src, table)

    key_columns, method = boundaries.choose_chunking_columns(
        src, table.chunking_columns, conn=sf_conn, source_filter=table.source_filter
    )
    batch_size = settings.batch_size_for(table)
    if sf_conn is None:  # checking only: no Snowflake query, no chunks
        sized = sizing.ChunkRows(batch_size, None, False)
        chunks: list[Chunk] = []
        method_detail = method
    else:
        sized = sizing.plan_chunk_rows(
            sf_conn,
            src,
            [m.source for m in match.mappings],
            table.source_filter,
            batch_size,
            settings.max_chunk_mb_for(table),
        )
        chunks, method_detail = boundaries.plan_chunks(
            sf_conn, src, key_columns, table.source_filter, sized.rows
        )
    notes: list[str] = []
    if sized.capped:
        notes.append(
            f"rows average {sized.row_bytes:,.0f} bytes: chunks of {sized.rows:,} rows instead "
            f"of batch_size {batch_size:,} (max_chunk_mb {settings.max_chunk_mb_for(table):g})"
        )
    if renames:
        notes.append(
            "columns loaded under another name (column_mapping, target_watermark): "
            + ", ".join(f"{s} -> {t}" for s, t in renames.items())
        )
    if match.skipped_source:
        notes.append(
            "source columns not in the existing target, left out: "
            + ", ".join(match.skipped_source)
        )
    if match.unfilled_target:
        notes.append(
            "target columns with no source column, left to their defaults: "
            + ", ".join(match.unfilled_target)
        )
    return TablePlan(
        source_name=source.source_name,
        source=src,
        target_database=source.target_pg_database,
        target_schema=source.target_pg_schema,
        target_table=target_table,
        mappings=match.mappings,
        chunks=tuple(chunks),
        create_target=existing is None,
        target_primary_key=target_pk,
        skipped_source_columns=match.skipped_source,
        unfilled_target_columns=match.unfilled_target,
        source_filter=table.source_filter,
        chunking_method=method if method_detail in method else f"{method_detail}; {method}",
        parallel_threads=settings.threads_for(table),
        batch_size=sized.rows,
        truncate_onstart=table.truncate_onstart,
        disable_index=table.disable_index,
        notes=tuple(notes),
        nul_policy=settings.nul_policy_for(table),
        copy_format=settings.copy_format_for(table),
    )


def _check_configured_columns(src: SourceTable, table: TableConfig) -> None:
    for field_name in ("chunking_columns", "uniqueness_columns"):
        names: Sequence[str] | None = getattr(table, field_name)
        catalog.check_columns_exist(src, list(names or ()), f"{field_name} of table {table.source}")
    for field_name in ("source_watermark",):
        name: str | None = getattr(table, field_name)
        if name:
            catalog.check_columns_exist(src, [name], f"{field_name} of table {table.source}")

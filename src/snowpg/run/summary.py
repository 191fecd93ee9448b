"""The run's summary: each table's status row as the CLI and the Lambda report it, and this
process's own rows, retries and errors."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from snowpg.config import SourceConfig, TableConfig
from snowpg.copy.job import WorkerStats
from snowpg.run.options import RunSummary, TableSummary
from snowpg.status import keyreport, store
from snowpg.status.rows import RunRow, TableRow

log = logging.getLogger("snowpg.run.summary")


def summarize(
    admin: Any,
    source: SourceConfig,
    run_id: uuid.UUID,
    status: str,
    resumed: bool,
    stats: list[WorkerStats],
    started: float,
) -> RunSummary:
    """The run's summary from its status rows (read now) and this process's workers' stats."""
    tables = [_table_summary(row) for row in store.table_rows(admin, run_id)]
    admin.commit()
    return RunSummary(
        source_name=source.source_name,
        run_id=run_id,
        status=status,
        resumed=resumed,
        tables=tables,
        rows_this_process=sum(s.rows for s in stats),
        seconds=time.monotonic() - started,
        retries=sum(s.retries for s in stats),
        errors=[e for s in stats for e in s.errors],
    )


def summarize_already_complete(
    admin: Any, source: SourceConfig, run: RunRow, selected: list[TableConfig], started: float
) -> RunSummary:
    """The source's newest run had completed with this configuration: nothing was copied."""
    log.info(
        "run %s of source %s is already complete; nothing to copy (to load again into empty "
        "targets, run with --no-resume)",
        run.run_id,
        source.source_name,
        extra={"run_id": run.run_id},
    )
    summary = summarize(admin, source, run.run_id, "completed", True, [], started)
    summary.already_complete = True
    summary.selected = tuple(
        t.source_table for t in summary.tables if wanted(t.source_table, selected)
    )
    return summary


def summarize_abandoned(
    admin: Any,
    source: SourceConfig,
    run_id: uuid.UUID,
    resumed: bool,
    stats: list[WorkerStats],
    started: float,
) -> RunSummary:
    """This run was replaced by a fresh run while we copied: report, never write its status."""
    message = (
        f"run {run_id} was replaced by a fresh run (--no-resume) while this process copied; "
        "its uncommitted chunks were rolled back"
    )
    log.error(message, extra={"run_id": run_id})
    summary = summarize(admin, source, run_id, "failed", resumed, stats, started)
    summary.errors.append(message)
    return summary


def wanted(source_table: str, selected: list[TableConfig]) -> bool:
    """Whether this invocation was asked to copy ``source_table``."""
    return any(source_table in (t.source, t.source.upper()) for t in selected)


def _table_summary(row: TableRow) -> TableSummary:
    seconds = None
    if row.started_at and row.completed_at:
        seconds = (row.completed_at - row.started_at).total_seconds()
    notes = []
    for key, label in (
        ("skipped_source_columns", "left out source columns"),
        ("unfilled_target_columns", "target columns not filled"),
    ):
        if row.metadata.get(key):
            notes.append(f"{label}: {', '.join(row.metadata[key])}")
    if row.metadata.get("nul_fixed"):
        counts = ", ".join(f"{c} {n:,}" for c, n in sorted(row.metadata["nul_fixed"].items()))
        notes.append(f"values cleaned of NUL characters (nul_policy): {counts}")
    notes.extend(keyreport.notes(row.metadata))
    return TableSummary(
        source_table=row.key.source_table,
        target=f"{row.target_schema}.{row.target_table}",
        status=row.status,
        total_chunks=row.total_chunks,
        completed_chunks=row.completed_chunks,
        failed_chunks=row.failed_chunks,
        rows=row.total_rows_copied,
        estimated_rows=row.estimated_rows,
        seconds=seconds,
        error=row.error_message,
        notes=notes,
        duplicate_keys=row.metadata.get("duplicate_keys"),
        deduplicated=row.metadata.get("deduplicated"),
    )

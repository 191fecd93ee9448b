"""What a run is asked to do (MigrateOptions) and what it reports (RunSummary, TableSummary)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MigrateOptions:
    tables_filter: Sequence[str] | str | None = None
    no_resume: bool = False
    # With no_resume: the request's token, recorded in the fresh run; on a continuing call of
    # the same request the run started fresh for it is resumed instead (status.fresh).
    fresh_request: str | None = None
    fresh_continues: bool = False
    resume_run_id: uuid.UUID | None = None
    resume_max_age_hours: float | None = None
    deadline: float | None = None  # time.monotonic() after which no new chunk is claimed
    # time.monotonic() after which no further table is planned (Lambda); None plans every table
    plan_deadline: float | None = None


@dataclass
class TableSummary:
    source_table: str
    target: str
    status: str
    total_chunks: int
    completed_chunks: int
    failed_chunks: int
    rows: int
    estimated_rows: int | None
    seconds: float | None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class RunSummary:
    source_name: str
    run_id: uuid.UUID
    status: str  # completed / partial / failed / running
    resumed: bool
    tables: list[TableSummary]
    rows_this_process: int
    seconds: float
    retries: int
    errors: list[str]
    selected: tuple[str, ...] = ()  # source tables this invocation was asked to copy
    deadline_hit: bool = False
    already_complete: bool = False  # the run had completed before; nothing was copied
    unplanned: tuple[str, ...] = ()  # selected tables not planned yet (planning deadline)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def exit_code(self) -> int:
        """0 when every selected table is complete, 1 if any failed, 3 if work remains (chunks
        to copy or tables to plan)."""
        mine = [t for t in self.tables if not self.selected or t.source_table in self.selected]
        if any(t.status == "failed" or t.failed_chunks for t in mine):
            return 1
        if self.unplanned:
            return 3
        if all(t.status in ("completed", "skipped") for t in mine):
            return 0
        return 3

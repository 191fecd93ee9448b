"""A run's report for ``snowpg status``, ``serve`` and ``report``: its types and its numbers.

Pure: the rates, ETAs and stuck chunks are worked out here from the rows that
:mod:`snowpg.status.collect` reads from ``migration_status``; nothing here does I/O, so the faces
can import the types without a database driver.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from snowpg.status import keyreport

# "Current" throughput is measured over the chunks completed in this many seconds.
RATE_WINDOW_S = 60.0
# A chunk is stuck when it has been in progress this many times longer than its table's median
# completed chunk, and for at least STUCK_MIN_S (a 0.2 s median must not flag a 2 s chunk).
STUCK_FACTOR = 5.0
STUCK_MIN_S = 60.0
# The throughput chart gets at most this many points, however long the run.
MAX_SERIES_POINTS = 60


@dataclass
class ChunkIssue:
    """A failed chunk, or one in progress for far longer than its table's median."""

    source_table: str
    chunk_id: int
    status: str
    seconds: float | None  # running time so far (stuck) or None (failed)
    retry_count: int
    lease_owner: str | None
    error_message: str | None


@dataclass
class TableStatus:
    source_table: str
    target: str
    status: str
    chunks_total: int
    chunks_completed: int
    chunks_failed: int
    rows_copied: int
    estimated_rows: int | None
    retries: int
    started_at: Any
    completed_at: Any
    error_message: str | None
    chunks_in_progress: int = 0
    bytes_copied: int = 0
    seconds: float | None = None  # since the table started (to its completion, if complete)
    rows_per_second: float | None = None  # current: over the last RATE_WINDOW_S
    average_rows_per_second: float | None = None
    eta_seconds: float | None = None
    median_chunk_seconds: float | None = None
    verification: str | None = None
    # source keys Snowflake did not enforce: the findings and their one-line notes (keyreport)
    duplicate_keys: dict[str, Any] | None = None
    deduplicated: dict[str, Any] | None = None
    key_notes: list[str] = field(default_factory=list)
    stuck_chunks: list[ChunkIssue] = field(default_factory=list)
    failed_chunks: list[ChunkIssue] = field(default_factory=list)


@dataclass
class StatusReport:
    source_name: str
    target_database: str
    run_id: str | None
    run_status: str | None
    started_at: Any = None
    completed_at: Any = None
    rows_copied: int = 0
    error_message: str | None = None
    tables: list[TableStatus] = field(default_factory=list)
    bytes_copied: int = 0
    seconds: float | None = None
    rows_per_second: float | None = None
    eta_seconds: float | None = None
    retries: int = 0
    generated_at: Any = None
    # [seconds since the run started, rows/s in that interval], oldest first
    throughput: list[tuple[float, float]] = field(default_factory=list)

    @property
    def stuck_chunks(self) -> list[ChunkIssue]:
        return [c for t in self.tables for c in t.stuck_chunks]

    @property
    def failed_chunks(self) -> list[ChunkIssue]:
        return [c for t in self.tables for c in t.failed_chunks]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def table_status(t: dict[str, Any]) -> TableStatus:
    """One table of the report from its row of the tables query (see snowpg.status.collect)."""
    rows = t["total_rows_copied"] or 0
    secs = t["secs"]
    done = t["status"] in ("completed", "skipped", "failed")
    current = None
    if not done and t["age"] is not None:
        current = float(t["recent_rows"]) / max(1.0, min(RATE_WINDOW_S, t["age"]))
    # Rows per second of copying: pauses between invocations are left out.
    span = secs - (t["idle_s"] or 0.0) if secs is not None else None
    average = rows / span if span and span > 0 and rows else None
    meta = t.get("metadata") or {}
    ts = TableStatus(
        source_table=t["source_table"],
        target=f"{t['target_schema']}.{t['target_table']}",
        status=t["status"],
        chunks_total=t["total_chunks"] or 0,
        chunks_completed=t["completed_chunks"] or 0,
        chunks_failed=t["failed_chunks"] or 0,
        rows_copied=rows,
        estimated_rows=t["estimated_rows"],
        retries=int(t["retries"]),
        started_at=t["started_at"],
        completed_at=t["completed_at"],
        error_message=t["error_message"],
        chunks_in_progress=int(t["chunks_in_progress"]),
        bytes_copied=t["total_bytes"] or 0,
        seconds=secs,
        rows_per_second=current,
        average_rows_per_second=average,
        median_chunk_seconds=t["median_s"],
        verification=_verification(t),
        duplicate_keys=meta.get("duplicate_keys"),
        deduplicated=meta.get("deduplicated"),
        key_notes=keyreport.notes(meta),
    )
    ts.eta_seconds = None if done else eta(ts)
    return ts


def eta(t: TableStatus) -> float | None:
    """Seconds until ``t`` completes at its current rate (else its average); None if unknown."""
    rate = t.rows_per_second or t.average_rows_per_second
    left_chunks = t.chunks_total - t.chunks_completed - t.chunks_failed
    if left_chunks <= 0:
        return 0.0
    if not rate:
        return None
    left_rows = _rows_left(t)
    return None if left_rows is None else left_rows / rate


def _rows_left(t: TableStatus) -> float | None:
    left_chunks = t.chunks_total - t.chunks_completed - t.chunks_failed
    if left_chunks <= 0:
        return 0.0
    if t.estimated_rows is not None and t.estimated_rows > t.rows_copied:
        return float(t.estimated_rows - t.rows_copied)
    if t.chunks_completed:
        return left_chunks * t.rows_copied / t.chunks_completed
    return None


def _verification(t: dict[str, Any]) -> str | None:
    """The table's verification result (``snowpg verify``): match, mismatch or error."""
    status = t.get("verify_status")  # absent on a status schema older than v2
    if status is None:
        return None
    when = t.get("verified_at")
    return f"{status} ({when:%Y-%m-%d %H:%M})" if isinstance(when, datetime) else str(status)


def is_stuck(running_s: float | None, median_s: float | None) -> bool:
    """True when a chunk has run far longer than its table's median completed chunk."""
    if running_s is None or median_s is None:
        return False
    return running_s >= max(STUCK_MIN_S, STUCK_FACTOR * median_s)


def add_totals(report: StatusReport, now: datetime) -> None:
    """Fill in the run's totals, rate and ETA from its tables' (``now``: the server's clock)."""
    report.bytes_copied = sum(t.bytes_copied for t in report.tables)
    report.retries = sum(t.retries for t in report.tables)
    end = report.completed_at or now
    if report.started_at is not None:
        report.seconds = max(0.0, (end - report.started_at).total_seconds())
    running = report.run_status in ("running", "partial")
    rates = [t.rows_per_second for t in report.tables if t.rows_per_second is not None]
    if report.run_status == "partial" and not any(t.chunks_in_progress for t in report.tables):
        # Stopped between calls (deadline, Ctrl-C, --tables): nobody copies, so no ETA.
        report.rows_per_second = sum(rates) if rates else 0.0
        for t in report.tables:
            t.eta_seconds = None
    elif running:
        report.rows_per_second = sum(rates) if rates else 0.0
        open_ = [t for t in report.tables if t.status not in ("completed", "skipped", "failed")]
        left = [_rows_left(t) for t in open_]
        if not open_:
            report.eta_seconds = 0.0
        elif report.rows_per_second and all(n is not None for n in left):
            # The workers share the run's throughput across its tables.
            report.eta_seconds = sum(n or 0.0 for n in left) / report.rows_per_second
    elif report.seconds:
        # The tables' copying times added up (capped at the wall clock, as tables copy in
        # parallel): pauses between invocations do not lower the run's average.
        busy = [
            t.rows_copied / t.average_rows_per_second
            for t in report.tables
            if t.average_rows_per_second
        ]
        span = min(report.seconds, sum(busy)) if busy else report.seconds
        report.rows_per_second = report.rows_copied / span if span > 0 else None

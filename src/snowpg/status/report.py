"""Read a run's state from ``migration_status`` for ``snowpg status``, ``serve`` and ``report``.

Reads only: every number comes from the three status tables, so the answer is the same from any
machine that can reach the target PostgreSQL, whichever process (CLI, Lambda) did the copying.
Times in the status rows are the server's local time, so every age is computed in SQL against
``LOCALTIMESTAMP`` and never against this machine's clock.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.sql import Composed

from snowpg.config import Settings, SourceConfig
from snowpg.errors import ConfigError
from snowpg.status.schema import has_snowpg_columns, q
from snowpg.target import connection as pg_connection

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


def collect_status(
    settings: Settings, source: SourceConfig, run: str | None = None
) -> StatusReport:
    """The status of ``run`` (a run id) or of the newest run of ``source``."""
    run_id = parse_run_id(run)
    conn = pg_connection.connect(settings.postgres, source.target_pg_database)
    try:
        return read_status(conn, source.source_name, source.target_pg_database, run_id)
    finally:
        conn.close()


def parse_run_id(run: str | None) -> uuid.UUID | None:
    if run is None:
        return None
    try:
        return uuid.UUID(run)
    except ValueError as exc:
        raise ConfigError(f"--run {run!r} is not a run id (a UUID)") from exc


def has_status_schema(conn: psycopg.Connection[Any]) -> bool:
    """True when migration_status can hold snowpg's runs (see schema.has_snowpg_columns)."""
    found = has_snowpg_columns(conn)
    conn.rollback()
    return found


def read_status(
    conn: psycopg.Connection[Any],
    source_name: str,
    target_database: str,
    run_id: uuid.UUID | None = None,
) -> StatusReport:
    """Everything ``snowpg status`` shows, read in one repeatable-read snapshot."""
    empty = StatusReport(source_name, target_database, None, None)
    if not has_status_schema(conn):
        return empty
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        if run_id is None:
            run = _fetch(
                conn,
                q(
                    "SELECT *, LOCALTIMESTAMP AS now FROM {runs} WHERE source_name = %s"
                    " ORDER BY started_at DESC LIMIT 1"
                ),
                (source_name,),
            )
        else:
            run = _fetch(
                conn, q("SELECT *, LOCALTIMESTAMP AS now FROM {runs} WHERE run_id = %s"), (run_id,)
            )
        if not run:
            return empty
        r = run[0]
        report = StatusReport(
            source_name=r["source_name"] or source_name,
            target_database=target_database,
            run_id=str(r["run_id"]),
            run_status=r["status"],
            started_at=r["started_at"],
            completed_at=r["completed_at"],
            rows_copied=r["total_rows_copied"] or 0,
            error_message=r["error_message"],
            generated_at=r["now"],
        )
        report.tables = _tables(conn, r["run_id"])
        _issues(conn, r["run_id"], report.tables)
        report.throughput = _series(
            conn,
            r["run_id"],
            r["started_at"],
            r["completed_at"] or r["now"],
            running=r["completed_at"] is None,
        )
        _totals(report, r["now"])
        return report
    finally:
        conn.rollback()


def _fetch(
    conn: psycopg.Connection[Any], query: Composed, params: Any = None
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()


_TABLES_SQL = q("""
SELECT t.*,
    coalesce(c.in_progress, 0) AS chunks_in_progress,
    coalesce(c.retries, 0) AS retries,
    c.median_s,
    coalesce(c.recent_rows, 0) AS recent_rows,
    extract(epoch FROM coalesce(t.completed_at, LOCALTIMESTAMP) - t.started_at)::float8 AS secs,
    extract(epoch FROM LOCALTIMESTAMP - t.started_at)::float8 AS age,
    b.idle_s
FROM {tables} t
LEFT JOIN LATERAL (
    -- Pauses in which no chunk of the table was being copied for more than %(idle)s seconds
    -- (between invocations, or --max-seconds calls): the gaps between the islands of its
    -- completed chunks' intervals. Averages leave them out.
    SELECT sum(extract(epoch FROM g.s - g.prev_e))::float8 AS idle_s
    FROM (
        SELECT z.s, lag(z.e) OVER (ORDER BY z.s) AS prev_e
        FROM (
            SELECT min(y.s) AS s, max(y.e) AS e
            FROM (
                SELECT x.s, x.e, sum(x.starts_island) OVER (ORDER BY x.s, x.e) AS island
                FROM (
                    SELECT w.s, w.e,
                        CASE WHEN w.s <= max(w.e) OVER (ORDER BY w.s, w.e
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                            + make_interval(secs => %(idle)s) THEN 0 ELSE 1 END AS starts_island
                    FROM (
                        SELECT cs.completed_at - make_interval(secs => coalesce(
                                cs.duration_seconds,
                                extract(epoch FROM cs.completed_at - cs.started_at)::float8)) AS s,
                            cs.completed_at AS e
                        FROM {chunks} cs
                        WHERE (cs.run_id, cs.source_database, cs.source_schema, cs.source_table)
                            = (t.run_id, t.source_database, t.source_schema, t.source_table)
                            AND cs.status = 'completed' AND cs.completed_at IS NOT NULL
                    ) w
                ) x
            ) y
            GROUP BY y.island
        ) z
    ) g
    WHERE g.prev_e IS NOT NULL AND g.s > g.prev_e
) b ON true
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE cs.status = 'in_progress') AS in_progress,
        sum(cs.retry_count) AS retries,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(cs.duration_seconds,
            extract(epoch FROM cs.completed_at - cs.started_at)::float8))
            FILTER (WHERE cs.status = 'completed') AS median_s,
        sum(cs.rows_copied) FILTER (WHERE cs.status = 'completed'
            AND cs.completed_at > LOCALTIMESTAMP - make_interval(secs => %(window)s)) AS recent_rows
    FROM {chunks} cs
    WHERE (cs.run_id, cs.source_database, cs.source_schema, cs.source_table)
        = (t.run_id, t.source_database, t.source_schema, t.source_table)
) c ON true
WHERE t.run_id = %(run)s
ORDER BY (t.metadata->>'ordinal')::int NULLS LAST, t.source_database, t.source_schema,
    t.source_table
""")


# A stretch this long (seconds) with no chunk of a table being copied is a pause, not copying.
IDLE_GAP_S = 10.0


def _tables(conn: psycopg.Connection[Any], run_id: uuid.UUID) -> list[TableStatus]:
    out = []
    for t in _fetch(
        conn, _TABLES_SQL, {"run": run_id, "window": RATE_WINDOW_S, "idle": IDLE_GAP_S}
    ):
        rows = t["total_rows_copied"] or 0
        secs = t["secs"]
        done = t["status"] in ("completed", "skipped", "failed")
        current = None
        if not done and t["age"] is not None:
            current = float(t["recent_rows"]) / max(1.0, min(RATE_WINDOW_S, t["age"]))
        # Rows per second of copying: pauses between invocations are left out.
        span = secs - (t["idle_s"] or 0.0) if secs is not None else None
        average = rows / span if span and span > 0 and rows else None
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
        )
        ts.eta_seconds = None if done else eta(ts)
        out.append(ts)
    return out


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


_ISSUES_SQL = q("""
SELECT cs.source_table, cs.chunk_id, cs.status, cs.retry_count, cs.lease_owner, cs.error_message,
    extract(epoch FROM LOCALTIMESTAMP - cs.started_at)::float8 AS running_s
FROM {chunks} cs
WHERE cs.run_id = %(run)s AND cs.status IN ('failed', 'in_progress')
ORDER BY cs.source_table, cs.chunk_id
""")


def _issues(conn: psycopg.Connection[Any], run_id: uuid.UUID, tables: list[TableStatus]) -> None:
    by_name = {t.source_table: t for t in tables}
    for c in _fetch(conn, _ISSUES_SQL, {"run": run_id}):
        t = by_name.get(c["source_table"])
        if t is None:
            continue
        issue = ChunkIssue(
            source_table=c["source_table"],
            chunk_id=c["chunk_id"],
            status=c["status"],
            seconds=c["running_s"] if c["status"] == "in_progress" else None,
            retry_count=c["retry_count"] or 0,
            lease_owner=c["lease_owner"],
            error_message=c["error_message"],
        )
        if c["status"] == "failed":
            t.failed_chunks.append(issue)
        elif is_stuck(c["running_s"], t.median_chunk_seconds):
            t.stuck_chunks.append(issue)


def is_stuck(running_s: float | None, median_s: float | None) -> bool:
    """True when a chunk has run far longer than its table's median completed chunk."""
    if running_s is None or median_s is None:
        return False
    return running_s >= max(STUCK_MIN_S, STUCK_FACTOR * median_s)


_SERIES_SQL = q("""
SELECT floor(extract(epoch FROM completed_at - %(start)s) / %(bucket)s)::int AS b,
    sum(rows_copied)::float8 AS rows
FROM {chunks}
WHERE run_id = %(run)s AND status = 'completed' AND completed_at >= %(start)s
GROUP BY 1 ORDER BY 1
""")


def _series(
    conn: psycopg.Connection[Any],
    run_id: uuid.UUID,
    start: datetime,
    end: datetime,
    running: bool,
) -> list[tuple[float, float]]:
    span = max(1.0, (end - start).total_seconds())
    bucket = max(1.0, float(int(span / MAX_SERIES_POINTS) + 1))
    rows = {
        r["b"]: r["rows"]
        for r in _fetch(conn, _SERIES_SQL, {"run": run_id, "start": start, "bucket": bucket})
    }
    last = max([int(span // bucket), *rows.keys()])
    if running and last > 0:
        last -= 1  # the newest bucket is still filling: its rate would dip
    return [(b * bucket, rows.get(b, 0.0) / bucket) for b in range(last + 1)]


def _totals(report: StatusReport, now: datetime) -> None:
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

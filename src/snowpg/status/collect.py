"""Read a run's state from ``migration_status`` for ``snowpg status``, ``serve`` and ``report``.

Reads only: every number comes from the three status tables, so the answer is the same from any
machine that can reach the target PostgreSQL, whichever process (CLI, Lambda) did the copying.
Times in the status rows are the server's local time, so every age is computed in SQL against
``LOCALTIMESTAMP`` and never against this machine's clock.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.sql import Composed

from snowpg.config import SourceConfig
from snowpg.errors import ConfigError
from snowpg.status.report import (
    MAX_SERIES_POINTS,
    RATE_WINDOW_S,
    ChunkIssue,
    StatusReport,
    TableStatus,
    add_totals,
    is_stuck,
    table_status,
)
from snowpg.status.schema import fetch_all, has_snowpg_columns, q


def collect_status(
    conn: psycopg.Connection[Any], source: SourceConfig, run_id: uuid.UUID | None = None
) -> StatusReport:
    """The status of run ``run_id`` or of the newest run of ``source``, read over ``conn`` (a
    connection to the source's target database, opened and closed by the caller); leaves no
    transaction open."""
    return read_status(conn, source.source_name, source.target_pg_database, run_id)


def parse_run_id(run: str | None) -> uuid.UUID | None:
    """The run id of a ``--run`` option; raises ConfigError when it is not a UUID."""
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


def recent_runs(conn: psycopg.Connection[Any], limit: int) -> list[dict[str, Any]]:
    """The newest runs of every source in this database; leaves no transaction open."""
    if not has_status_schema(conn):
        return []
    try:
        return fetch_all(
            conn,
            q(
                "SELECT run_id::text AS run_id, source_name, status, started_at, completed_at,"
                " coalesce(total_tables, 0) AS total_tables,"
                " coalesce(completed_tables, 0) AS completed_tables,"
                " coalesce(failed_tables, 0) AS failed_tables,"
                " coalesce(total_rows_copied, 0) AS rows_copied"
                " FROM {runs} ORDER BY started_at DESC LIMIT %s"
            ),
            (limit,),
        )
    finally:
        conn.rollback()


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
        add_totals(report, r["now"])
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
    rows = _fetch(conn, _TABLES_SQL, {"run": run_id, "window": RATE_WINDOW_S, "idle": IDLE_GAP_S})
    return [table_status(t) for t in rows]


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

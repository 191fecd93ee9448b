"""Read a run's state from ``migration_status`` for ``snowpg status`` (reads only)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from snowpg.config import Settings, SourceConfig
from snowpg.errors import ConfigError
from snowpg.status import store
from snowpg.target import connection as pg_connection


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def collect_status(
    settings: Settings, source: SourceConfig, run: str | None = None
) -> StatusReport:
    conn = pg_connection.connect(settings.postgres, source.target_pg_database)
    try:
        found = conn.execute(
            "SELECT to_regclass('migration_status.migration_runs') IS NOT NULL"
        ).fetchone()
        if not found or not found[0]:
            return StatusReport(source.source_name, source.target_pg_database, None, None)
        if run is not None:
            try:
                run_id = uuid.UUID(run)
            except ValueError as exc:
                raise ConfigError(f"--run {run!r} is not a run id (a UUID)") from exc
            row = store.get_run(conn, run_id)
        else:
            runs = [r for r in store.latest_runs(conn, 200) if r.source_name == source.source_name]
            row = runs[0] if runs else None
        if row is None:
            return StatusReport(source.source_name, source.target_pg_database, None, None)
        tables = []
        for t in store.list_tables(conn, row.run_id):
            retries = sum(c.retry_count for c in store.list_chunks(conn, t.key))
            tables.append(
                TableStatus(
                    source_table=t.key.source_table,
                    target=f"{t.target_schema}.{t.target_table}",
                    status=t.status,
                    chunks_total=t.total_chunks,
                    chunks_completed=t.completed_chunks,
                    chunks_failed=t.failed_chunks,
                    rows_copied=t.total_rows_copied,
                    estimated_rows=t.estimated_rows,
                    retries=retries,
                    started_at=t.started_at,
                    completed_at=t.completed_at,
                    error_message=t.error_message,
                )
            )
        return StatusReport(
            source_name=source.source_name,
            target_database=source.target_pg_database,
            run_id=str(row.run_id),
            run_status=row.status,
            started_at=row.started_at,
            completed_at=row.completed_at,
            rows_copied=row.total_rows_copied,
            error_message=row.error_message,
            tables=tables,
        )
    finally:
        conn.close()

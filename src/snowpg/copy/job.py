"""What a worker is given to copy one table's chunks, and what it counts. Plain data."""

from __future__ import annotations

from dataclasses import dataclass, field

from snowpg.copy.upsert import UpsertSpec
from snowpg.model import SourceTable
from snowpg.status.rows import TableKey


@dataclass(frozen=True)
class TableJob:
    """What a worker needs to copy the chunks of one table."""

    key: TableKey
    source: SourceTable
    source_columns: tuple[str, ...]
    target_schema: str
    target_table: str
    target_columns: tuple[str, ...]
    json_columns: tuple[str, ...]
    source_filter: str | None
    display_name: str
    nul_policy: str = "fail"  # "fail" | "strip" | "replace:<char>" (snowpg.copy.encode)
    copy_format: str = "auto"  # "auto": binary where every column can be; "csv": always CSV
    # Incremental tables: staging + merge, delete checks (snowpg.copy.upsert); None = plain COPY.
    upsert: UpsertSpec | None = None


@dataclass
class WorkerStats:
    chunks_completed: int = 0
    chunks_failed: int = 0
    retries: int = 0
    rows: int = 0
    bytes: int = 0
    lost_claims: int = 0
    errors: list[str] = field(default_factory=list)

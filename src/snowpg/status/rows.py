"""Rows of the ``migration_status`` tables as frozen dataclasses, and their construction from
dict rows. Pure: no I/O.

Status words are fixed (users' monitoring queries rely on them):
runs ``running``/``completed``/``partial``/``failed``; tables and chunks
``pending``/``in_progress``/``completed``/``failed``, tables also ``skipped``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RUN_STATUSES = ("running", "completed", "partial", "failed")
TABLE_STATUSES = ("pending", "in_progress", "completed", "failed", "skipped")
CHUNK_STATUSES = ("pending", "in_progress", "completed", "failed")


@dataclass(frozen=True)
class TableKey:
    run_id: uuid.UUID
    source_database: str
    source_schema: str
    source_table: str

    @property
    def qualified(self) -> str:
        return f"{self.source_database}.{self.source_schema}.{self.source_table}"


@dataclass(frozen=True)
class ChunkKey:
    table: TableKey
    chunk_id: int


@dataclass(frozen=True)
class RunRow:
    run_id: uuid.UUID
    started_at: datetime
    completed_at: datetime | None
    status: str
    config_hash: str | None
    source_name: str | None
    total_tables: int
    completed_tables: int
    failed_tables: int
    total_rows_copied: int
    error_message: str | None
    metadata: dict[str, Any]
    created_by: str | None = None
    heartbeat_at: datetime | None = None


@dataclass(frozen=True)
class TableRow:
    key: TableKey
    source_name: str
    target_database: str
    target_schema: str
    target_table: str
    status: str
    total_chunks: int
    completed_chunks: int
    failed_chunks: int
    total_rows_copied: int
    indexes_disabled: bool
    indexes_restored: bool
    error_message: str | None
    metadata: dict[str, Any]
    estimated_rows: int | None
    started_at: datetime | None
    completed_at: datetime | None
    chunking_method: str | None = None
    total_bytes: int = 0
    verify_status: str | None = None  # the last ``snowpg verify`` outcome (None: never verified)


@dataclass(frozen=True)
class ChunkRow:
    key: ChunkKey
    chunk_range: dict[str, Any]
    status: str
    rows_copied: int
    retry_count: int
    error_message: str | None
    lease_owner: str | None
    started_at: datetime | None
    completed_at: datetime | None
    estimated_rows: int | None
    attempts: int
    bytes_copied: int = 0
    duration_seconds: float | None = None
    # The last ``snowpg verify`` of the chunk (status schema v2; None on a row never verified).
    verified_at: datetime | None = None
    verify_status: str | None = None
    verify_detail: dict[str, Any] | None = None


@dataclass(frozen=True)
class ClaimedChunk:
    """A chunk handed to one worker. ``attempts`` is the fencing token of this claim: every later
    write for the claim only applies while the row still carries the same value."""

    key: ChunkKey
    chunk_range: dict[str, Any]
    attempts: int
    retry_count: int
    planned_rows: int | None = None  # the chunk's row count when it was planned, if known


def table_key(run_id: uuid.UUID, r: dict[str, Any]) -> TableKey:
    return TableKey(run_id, r["source_database"], r["source_schema"], r["source_table"])


def run_from(r: dict[str, Any]) -> RunRow:
    return RunRow(
        run_id=r["run_id"],
        started_at=r["started_at"],
        completed_at=r["completed_at"],
        status=r["status"],
        config_hash=r["config_hash"],
        source_name=r["source_name"],
        total_tables=r["total_tables"] or 0,
        completed_tables=r["completed_tables"] or 0,
        failed_tables=r["failed_tables"] or 0,
        total_rows_copied=r["total_rows_copied"] or 0,
        error_message=r["error_message"],
        metadata=r["metadata"] or {},
        created_by=r["created_by"],
        heartbeat_at=r["heartbeat_at"],
    )


def table_from(r: dict[str, Any]) -> TableRow:
    return TableRow(
        key=table_key(r["run_id"], r),
        source_name=r["source_name"],
        target_database=r["target_database"],
        target_schema=r["target_schema"],
        target_table=r["target_table"],
        status=r["status"],
        total_chunks=r["total_chunks"] or 0,
        completed_chunks=r["completed_chunks"] or 0,
        failed_chunks=r["failed_chunks"] or 0,
        total_rows_copied=r["total_rows_copied"] or 0,
        indexes_disabled=bool(r["indexes_disabled"]),
        indexes_restored=bool(r["indexes_restored"]),
        error_message=r["error_message"],
        metadata=r["metadata"] or {},
        estimated_rows=r["estimated_rows"],
        started_at=r["started_at"],
        completed_at=r["completed_at"],
        chunking_method=r["chunking_method"],
        total_bytes=r["total_bytes"] or 0,
        verify_status=r.get("verify_status"),
    )


def chunk_from(r: dict[str, Any]) -> ChunkRow:
    return ChunkRow(
        key=ChunkKey(table_key(r["run_id"], r), r["chunk_id"]),
        chunk_range=r["chunk_range"],
        status=r["status"],
        rows_copied=r["rows_copied"] or 0,
        retry_count=r["retry_count"] or 0,
        error_message=r["error_message"],
        lease_owner=r["lease_owner"],
        started_at=r["started_at"],
        completed_at=r["completed_at"],
        estimated_rows=r["estimated_rows"],
        attempts=r["attempts"] or 0,
        bytes_copied=r["bytes_copied"] or 0,
        duration_seconds=r["duration_seconds"],
        verified_at=r.get("verified_at"),
        verify_status=r.get("verify_status"),
        verify_detail=r.get("verify_detail"),
    )

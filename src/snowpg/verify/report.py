"""The outcome of verifying a run: per table, and for the whole run (exit code, chunk counts).
Pure: no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from snowpg.verify.compare import ERROR, MATCH, MISMATCH, ChunkResult

NOT_VERIFIED = "not verified"
# A table some of whose chunks are still to verify when the deadline came: call again.
PARTIAL = "partial"


@dataclass
class TableResult:
    source_table: str
    target: str
    status: str  # match / mismatch / error / partial / not verified
    chunks: list[ChunkResult] = field(default_factory=list)
    note: str | None = None
    seconds: float = 0.0
    total_chunks: int = 0
    verified_now: int = 0  # chunks read by this call (the others' results are recorded ones)

    @property
    def source_rows(self) -> int:
        return sum(c.source_rows for c in self.chunks)

    @property
    def target_rows(self) -> int:
        return sum(c.target_rows for c in self.chunks)

    @property
    def bad_chunks(self) -> list[ChunkResult]:
        return [c for c in self.chunks if c.status != MATCH]

    @property
    def remaining(self) -> int:
        return self.total_chunks - len(self.chunks) if self.status == PARTIAL else 0

    def detail(self) -> dict[str, Any]:
        return {
            "chunks": len(self.chunks),
            "mismatched_chunks": [c.chunk_id for c in self.chunks if c.status == MISMATCH],
            "error_chunks": [c.chunk_id for c in self.chunks if c.status == ERROR],
            "source_rows": self.source_rows,
            "target_rows": self.target_rows,
            "missing": sum(c.missing for c in self.chunks),
            "extra": sum(c.extra for c in self.chunks),
            "changed": sum(c.changed for c in self.chunks),
            "seconds": round(self.seconds, 3),
            "total_chunks": self.total_chunks,
            "verified_now": self.verified_now,
            "verified_earlier": len(self.chunks) - self.verified_now,
            "remaining": self.remaining,
        }


@dataclass
class VerifyReport:
    source_name: str
    run_id: uuid.UUID
    tables: list[TableResult]
    deadline_hit: bool = False
    continued: bool = False  # this call continued an unfinished verification of the run

    @property
    def differences(self) -> int:
        return sum(
            c.missing + c.extra + c.changed + (c.status == MISMATCH and not c.keys)
            for t in self.tables
            for c in t.chunks
        )

    def chunk_counts(self) -> dict[str, int]:
        """Chunks of the run's completed tables: total, verified (now or earlier), remaining."""
        total = sum(t.total_chunks for t in self.tables)
        verified = sum(len(t.chunks) for t in self.tables)
        now = sum(t.verified_now for t in self.tables)
        return {
            "total": total,
            "verified": verified,
            "verified_now": now,
            "verified_earlier": verified - now,
            "remaining": sum(t.remaining for t in self.tables),
        }

    @property
    def exit_code(self) -> int:
        """0 all verified equal; 1 a difference or an error; 3 work remains: the deadline came
        first (call again; it outranks a difference, so a loop finishes the run) or some table
        was not complete."""
        if self.deadline_hit and any(t.status == PARTIAL for t in self.tables):
            return 3
        if any(t.status in (MISMATCH, ERROR) for t in self.tables):
            return 1
        if any(t.status == NOT_VERIFIED for t in self.tables):
            return 3
        return 0

"""Which chunks a verification may skip, and when it stops for its deadline. Pure: no I/O.

A verification of a run is a *pass* (``migration_runs.metadata -> 'verify'``: its id, open or
closed). A pass stays open until a call ends without hitting its deadline and with every table
of the run complete; until then each call continues it, and a new call after that starts a new
pass, which reads every chunk again (a finished verification is never taken on trust: the
target may have changed since). ``reverify`` starts a new pass even while one is open.

Inside a pass, a chunk is skipped when its recorded verification belongs to the pass and checked
the chunk's current copy: the record carries the chunk's *copy stamp*, the claim's ``attempts``
(the fencing token every claim increments) and ``completed_at``. A chunk claimed and copied
again since (a resumed or re-run load, ``reset_failed``) has another stamp, so it is verified
again. Stamps, not clocks: ``verified_at`` and ``completed_at`` are LOCALTIMESTAMPs of sessions
that may differ in ``TimeZone``, so comparing them could skip a chunk copied after its check.

A recorded ``match`` or ``mismatch`` is kept (a later call reports it from the record); an
``error`` is tried again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from snowpg.status.rows import ChunkRow
from snowpg.verify.compare import ERROR, MATCH, MISMATCH, ChunkResult

# Keys inside migration_chunk_status.verify_detail: the copy stamp and the pass id.
STAMP_KEY = "copy"
PASS_KEY = "pass"


def choose_pass(state: dict[str, Any] | None, reverify: bool, new_id: str) -> tuple[str, bool]:
    """``(pass id, continued)``: the open pass of the run, else (or with ``reverify``) a new one."""
    if state and state.get("open") and state.get("id") and not reverify:
        return str(state["id"]), True
    return new_id, False


def copy_stamp(chunk: ChunkRow) -> dict[str, Any]:
    """What identifies the copy of ``chunk`` that a verification read."""
    done = chunk.completed_at.isoformat() if chunk.completed_at is not None else None
    return {"attempts": chunk.attempts, "completed_at": done}


def still_valid(chunk: ChunkRow, pass_id: str) -> bool:
    """Whether the chunk's recorded verification belongs to the pass and checked its current
    copy."""
    if chunk.status != "completed" or chunk.verify_status not in (MATCH, MISMATCH):
        return False
    detail = chunk.verify_detail or {}
    return detail.get(PASS_KEY) == pass_id and detail.get(STAMP_KEY) == copy_stamp(chunk)


def recorded_result(chunk: ChunkRow) -> ChunkResult:
    """The :class:`ChunkResult` a valid record stands for (counts and keys as recorded)."""
    d = chunk.verify_detail or {}
    return ChunkResult(
        chunk_id=chunk.key.chunk_id,
        status=chunk.verify_status or ERROR,
        source_rows=int(d.get("source_rows", 0)),
        target_rows=int(d.get("target_rows", 0)),
        source_checksum=int(d.get("source_checksum", 0)),
        target_checksum=int(d.get("target_checksum", 0)),
        missing=int(d.get("missing", 0)),
        extra=int(d.get("extra", 0)),
        changed=int(d.get("changed", 0)),
        keys=list(d.get("keys") or []),
        error=d.get("error"),
    )


def split(chunks: list[ChunkRow], pass_id: str) -> tuple[list[ChunkRow], list[ChunkResult]]:
    """``(chunks to verify, results of the chunks whose record is still valid in the pass)``."""
    todo = [c for c in chunks if not still_valid(c, pass_id)]
    kept = [recorded_result(c) for c in chunks if still_valid(c, pass_id)]
    return todo, kept


def closes_pass(deadline_hit: bool, tables_not_complete: int) -> bool:
    """Whether a call ends its pass: it ran out of nothing and every table was complete."""
    return not deadline_hit and tables_not_complete == 0


@dataclass
class Deadline:
    """When a verification stops starting work (``at``: a ``time.monotonic()``; None: never).

    Work goes in units (one checksum query for a group of chunks, or one chunk of a table with
    JSON columns); a unit is started only while the time left exceeds the longest unit seen so
    far, so a unit that would overrun is left for the next call.
    """

    at: float | None = None
    longest_unit: float = 0.0
    hit: bool = False

    def allows(self, now: float) -> bool:
        if self.at is None:
            return True
        if now + self.longest_unit >= self.at:
            self.hit = True
            return False
        return True

    def took(self, seconds: float) -> None:
        self.longest_unit = max(self.longest_unit, seconds)

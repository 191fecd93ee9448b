"""Which chunks a resumed verification skips, and when a deadline stops it. Pure."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from snowpg.status.rows import ChunkKey, ChunkRow, TableKey
from snowpg.verify import progress
from snowpg.verify.progress import Deadline

KEY = TableKey(uuid.uuid4(), "DB", "PUBLIC", "T")
COPIED = datetime(2026, 12, 3, 8, 0, 0, 123456)


def _chunk(chunk_id: int = 1, **changes: Any) -> ChunkRow:
    row = ChunkRow(
        key=ChunkKey(KEY, chunk_id),
        chunk_range={"columns": ["ID"], "types": ["NUMBER(38,0)"], "lower": None, "upper": None},
        status="completed",
        rows_copied=10,
        retry_count=0,
        error_message=None,
        lease_owner=None,
        started_at=COPIED,
        completed_at=COPIED,
        estimated_rows=10,
        attempts=1,
    )
    return dataclasses.replace(row, **changes)


PASS = "p1"


def _verified(chunk: ChunkRow, status: str = "match", **detail: Any) -> ChunkRow:
    d = {
        "source_rows": 10,
        "target_rows": 10,
        progress.STAMP_KEY: progress.copy_stamp(chunk),
        progress.PASS_KEY: PASS,
    }
    return dataclasses.replace(chunk, verify_status=status, verify_detail=d | detail)


def test_a_chunk_verified_since_its_copy_is_skipped_and_reported_from_its_record() -> None:
    done = _verified(_chunk(1), "mismatch", missing=2, keys=[{"kind": "missing", "key": "ID=4"}])
    fresh = _chunk(2)
    todo, kept = progress.split([done, fresh], PASS)
    assert [c.key.chunk_id for c in todo] == [2]
    assert len(kept) == 1
    assert (kept[0].chunk_id, kept[0].status, kept[0].missing) == (1, "mismatch", 2)
    assert kept[0].keys == [{"kind": "missing", "key": "ID=4"}]


def test_a_chunk_copied_again_after_its_verification_is_verified_again() -> None:
    checked = _verified(_chunk(1))
    # A later claim: attempts is the fencing token every claim increments.
    recopied = dataclasses.replace(checked, attempts=2, completed_at=datetime(2026, 12, 3, 9))
    assert progress.still_valid(checked, PASS)
    assert not progress.still_valid(recopied, PASS)
    assert not progress.still_valid(dataclasses.replace(checked, completed_at=None), PASS)
    # Claimed right now (in progress): not valid either.
    assert not progress.still_valid(dataclasses.replace(checked, status="in_progress"), PASS)


def test_errors_and_records_without_a_stamp_are_verified_again() -> None:
    errored = _verified(_chunk(1), "error", error="connection reset")
    unstamped = dataclasses.replace(_chunk(2), verify_status="match", verify_detail={})
    todo, kept = progress.split([errored, unstamped], PASS)
    assert [c.key.chunk_id for c in todo] == [1, 2] and kept == []


def test_a_record_of_another_pass_is_read_again() -> None:
    chunks = [_verified(_chunk(i)) for i in range(3)]
    todo, kept = progress.split(chunks, "p2")
    assert len(todo) == 3 and kept == []


def test_an_open_pass_is_continued_a_closed_one_or_reverify_starts_anew() -> None:
    assert progress.choose_pass({"id": "p1", "open": True}, False, "new") == ("p1", True)
    assert progress.choose_pass({"id": "p1", "open": True}, True, "new") == ("new", False)
    assert progress.choose_pass({"id": "p1", "open": False}, False, "new") == ("new", False)
    assert progress.choose_pass(None, False, "new") == ("new", False)
    # A pass closes only when nothing was left for the deadline and every table was complete.
    assert progress.closes_pass(deadline_hit=False, tables_not_complete=0)
    assert not progress.closes_pass(deadline_hit=True, tables_not_complete=0)
    assert not progress.closes_pass(deadline_hit=False, tables_not_complete=1)


def test_the_deadline_refuses_a_unit_that_would_overrun() -> None:
    clock = Deadline(at=100.0)
    assert clock.allows(50.0) and not clock.hit
    clock.took(30.0)
    assert clock.allows(69.0)
    assert not clock.allows(71.0)  # 71 + 30 passes 100
    assert clock.hit
    unbounded = Deadline()
    unbounded.took(1e9)
    assert unbounded.allows(1e12) and not unbounded.hit

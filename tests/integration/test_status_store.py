"""The status store against a real PostgreSQL: runs, tables, and the exactly-once chunk protocol."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from snowpg.status import store
from snowpg.status.rows import ChunkKey, ClaimedChunk, TableKey
from snowpg.status.schema import ensure_schema

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[Any]


@pytest.fixture
def conn(pg_dsn: str) -> Iterator[Conn]:
    with psycopg.connect(pg_dsn) as c:
        ensure_schema(c)
        yield c


def _rng(i: int) -> dict[str, Any]:
    return {"columns": ["ID"], "lower": [str(i)], "upper": [str(i + 1)]}


def _add(conn: Conn, run_id: uuid.UUID, table: str, n_chunks: int) -> TableKey:
    key = store.add_table(
        conn, run_id=run_id, source_name="src", source_database="DB", source_schema="PUBLIC",
        source_table=table, target_database="pg", target_schema="public",
        target_table=table.lower(), chunks=[(i, _rng(i), 10) for i in range(n_chunks)],
        estimated_rows=10 * n_chunks, chunking_method="range", metadata={"note": table},
    )  # fmt: skip
    conn.commit()
    return key


def _run(conn: Conn, **tables: int) -> tuple[uuid.UUID, list[TableKey]]:
    run_id = store.create_run(
        conn, source_name="src", config_hash="h1", created_by="t", metadata={}
    )
    return run_id, [_add(conn, run_id, name, n) for name, n in tables.items()]


def _complete(conn: Conn, claim: ClaimedChunk, worker: str = "w1", rows: int = 10) -> None:
    assert store.lock_claim(conn, claim, worker)
    store.complete_chunk(conn, claim, rows_copied=rows, bytes_copied=rows * 7, duration_seconds=0.5)
    conn.commit()


def _claim(conn: Conn, run_id: uuid.UUID, worker: str = "w1", **kw: Any) -> ClaimedChunk:
    claim = store.claim_chunk(conn, run_id, worker, 60, **kw)
    assert claim is not None
    return claim


def test_run_rows_and_resumable_run(conn: Conn) -> None:
    run_id, [t1, _t2] = _run(conn, T1=2, T2=1)
    run = store.get_run(conn, run_id)
    assert run is not None and run.status == "running" and run.total_tables == 2
    assert run.source_name == "src" and run.config_hash == "h1" and run.completed_at is None
    assert store.find_resumable_run(conn, "src") == run
    assert store.find_resumable_run(conn, "other") is None
    assert store.find_resumable_run(conn, "src", max_age_hours=1) is not None
    conn.execute(
        "UPDATE migration_status.migration_runs SET started_at = started_at - interval '3 hours'"
    )
    conn.commit()
    assert store.find_resumable_run(conn, "src", max_age_hours=2) is None

    _complete(conn, _claim(conn, run_id), rows=10)
    store.finish_table(conn, t1)
    store.set_run_status(conn, run_id, "partial")
    partial = store.get_run(conn, run_id)
    assert partial is not None and partial.status == "partial" and partial.completed_at is None
    assert (partial.total_rows_copied, partial.completed_tables, partial.failed_tables) == (
        10,
        0,
        0,
    )
    store.set_run_status(conn, run_id, "failed", "x" * 3000)
    failed = store.get_run(conn, run_id)
    assert failed is not None and failed.completed_at is not None
    assert failed.error_message == "x" * 2000
    assert store.find_resumable_run(conn, "src") is not None  # a failed run can be resumed
    # A later completed run hides the older failed one: resuming it would duplicate data.
    newer = store.create_run(conn, source_name="src", config_hash="h1", created_by="t", metadata={})
    store.set_run_status(conn, newer, "completed")
    assert store.find_resumable_run(conn, "src") is None
    assert [r.run_id for r in store.latest_runs(conn, 5)] == [newer, run_id]
    store.touch_run(conn, newer)
    touched = store.get_run(conn, newer)
    assert touched is not None and touched.heartbeat_at is not None


def test_add_table_is_in_the_callers_transaction(conn: Conn) -> None:
    run_id = store.create_run(conn, source_name="src", config_hash="h", created_by="t", metadata={})
    store.add_table(
        conn, run_id=run_id, source_name="src", source_database="DB", source_schema="PUBLIC",
        source_table="T", target_database="pg", target_schema="public", target_table="t",
        chunks=[(0, _rng(0), 5)], estimated_rows=5, chunking_method="range", metadata={},
    )  # fmt: skip
    conn.rollback()
    assert store.table_rows(conn, run_id) == []
    key = _add(conn, run_id, "T", 3)
    table = store.get_table(conn, key)
    assert table is not None and table.status == "pending" and table.total_chunks == 3
    assert table.estimated_rows == 30 and table.chunking_method == "range"
    assert table.metadata == {"ordinal": 0, "note": "T"}
    chunks = store.list_chunks(conn, key)
    assert [c.key.chunk_id for c in chunks] == [0, 1, 2]
    assert chunks[1].chunk_range == _rng(1) and chunks[1].status == "pending"
    assert chunks[1].estimated_rows == 10 and chunks[1].attempts == 0


def test_chunk_lifecycle_counts_rows_once(conn: Conn) -> None:
    run_id, [key] = _run(conn, T1=2)
    claim = _claim(conn, run_id)
    assert claim.key == ChunkKey(key, 0) and claim.attempts == 1 and claim.chunk_range == _rng(0)
    table = store.get_table(conn, key)
    assert table is not None and table.status == "in_progress" and table.started_at is not None
    _complete(conn, claim, rows=10)

    with pytest.raises(store.LostClaim):  # completing the same claim again never double counts
        store.complete_chunk(conn, claim, rows_copied=10, bytes_copied=1, duration_seconds=0.1)
    conn.rollback()
    assert store.finish_table(conn, key).status == "in_progress"
    conn.commit()

    _complete(conn, _claim(conn, run_id), rows=5)
    assert store.claim_chunk(conn, run_id, "w1", 60) is None
    done = store.finish_table(conn, key)
    conn.commit()
    assert (done.status, done.completed_chunks, done.total_rows_copied) == ("completed", 2, 15)
    assert done.total_bytes == 105 and done.completed_at is not None
    run = store.get_run(conn, run_id)
    assert run is not None and run.total_rows_copied == 15
    chunk = store.list_chunks(conn, key)[0]
    assert (chunk.status, chunk.rows_copied, chunk.bytes_copied, chunk.lease_owner) == (
        "completed", 10, 70, None,
    )  # fmt: skip
    assert chunk.duration_seconds == 0.5 and chunk.completed_at is not None
    assert store.chunk_status_counts(conn, run_id) == {
        "pending": 0, "in_progress": 0, "completed": 2, "failed": 0,
    }  # fmt: skip


def test_concurrent_claims_never_share_a_chunk(pg_dsn: str, conn: Conn) -> None:
    run_id, _ = _run(conn, T1=30, T2=20)
    claimed: list[ChunkKey] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with psycopg.connect(pg_dsn) as c:
                barrier.wait()
                while (claim := store.claim_chunk(c, run_id, f"w{n}", 60)) is not None:
                    with lock:
                        claimed.append(claim.key)
                # Owners stay connected until all are done, so no claim looks abandoned.
                barrier.wait()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(claimed) == 50 and len(set(claimed)) == 50


def test_chunk_of_a_gone_backend_is_reclaimed_at_once(pg_dsn: str, conn: Conn) -> None:
    run_id, [key] = _run(conn, T1=1)
    owner = psycopg.connect(pg_dsn)
    first = _claim(owner, run_id, "dead")
    assert store.claim_chunk(conn, run_id, "w2", 600) is None  # owner alive, lease running
    assert store.live_in_progress(conn, run_id) == 1
    owner.close()
    again = None
    for _ in range(50):  # the server notices the closed socket within milliseconds
        again = store.claim_chunk(conn, run_id, "w2", 600)
        if again is not None:
            break
        time.sleep(0.1)
    assert again is not None and again.key == first.key and again.attempts == 2
    # The old claim is fenced off: it can neither lock nor complete the chunk.
    assert not store.lock_claim(conn, first, "dead")
    conn.rollback()
    with pytest.raises(store.LostClaim):
        store.complete_chunk(conn, first, rows_copied=1, bytes_copied=1, duration_seconds=0)
    conn.rollback()
    chunk = store.list_chunks(conn, key)[0]
    assert chunk.lease_owner == "w2" and chunk.attempts == 2


def test_expired_lease_under_lock_claim_is_not_claimable(pg_dsn: str, conn: Conn) -> None:
    run_id, _ = _run(conn, T1=1)
    with psycopg.connect(pg_dsn) as other:
        claim = store.claim_chunk(conn, run_id, "w1", 0)  # lease ends at once
        assert claim is not None
        assert store.lock_claim(conn, claim, "w1")  # the data transaction stays open
        assert store.claim_chunk(other, run_id, "w2", 60) is None
        conn.rollback()  # the data transaction ends without completing
        taken = store.claim_chunk(other, run_id, "w2", 60)
        assert taken is not None and taken.key == claim.key
        assert not store.lock_claim(conn, claim, "w1")  # lost to w2
        conn.rollback()
        # While w2 holds its lock, w1 cannot even wait for the row.
        assert store.lock_claim(other, taken, "w2")
        assert not store.lock_claim(conn, taken, "w2")
        conn.rollback()
        other.rollback()


def test_retry_fail_and_reset(conn: Conn) -> None:
    run_id, [key] = _run(conn, T1=2)
    claim = _claim(conn, run_id)
    assert store.record_retry(conn, claim, "network " + "y" * 3000) == 1
    assert store.record_retry(conn, claim, "network again") == 2
    chunk = store.list_chunks(conn, key)[0]
    assert chunk.status == "in_progress" and chunk.retry_count == 2
    assert chunk.error_message == "network again"
    store.fail_chunk(conn, claim, "bad value in column X")
    table = store.get_table(conn, key)
    assert table is not None and table.failed_chunks == 1
    assert table.error_message == "chunk 0: bad value in column X"
    store.fail_chunk(conn, claim, "again")  # a second call for the same claim is a no-op
    table = store.get_table(conn, key)
    assert table is not None and table.failed_chunks == 1

    assert store.finish_table(conn, key).status == "in_progress"  # chunk 1 still pending
    conn.commit()
    _complete(conn, _claim(conn, run_id))
    assert store.finish_table(conn, key).status == "failed"
    conn.commit()
    store.set_run_status(conn, run_id, "failed")
    run = store.get_run(conn, run_id)
    assert run is not None and run.failed_tables == 1

    assert store.reset_failed(conn, run_id) == 1
    table = store.get_table(conn, key)
    assert table is not None and (table.status, table.failed_chunks) == ("in_progress", 0)
    assert table.error_message is None
    chunk = store.list_chunks(conn, key)[0]
    assert chunk.status == "pending" and chunk.lease_owner is None
    assert chunk.retry_count == 2 and chunk.error_message == "bad value in column X"
    again = _claim(conn, run_id)
    assert again.key.chunk_id == 0 and again.retry_count == 2 and again.attempts == 2
    _complete(conn, again)
    done = store.finish_table(conn, key)
    conn.commit()
    assert (done.status, done.completed_chunks, done.failed_chunks) == ("completed", 2, 0)


def test_a_chunk_failed_for_good_keeps_its_retries_and_a_completed_at(conn: Conn) -> None:
    # The existing tool's repair queries look for failed chunks with retry_count >= 3.
    run_id, [key] = _run(conn, T1=1)
    claim = _claim(conn, run_id)
    for n in range(3):
        assert store.record_retry(conn, claim, f"network {n}") == n + 1
    store.fail_chunk(conn, claim, "still no network")
    chunk = store.list_chunks(conn, key)[0]
    assert (chunk.status, chunk.retry_count) == ("failed", 3)
    assert chunk.completed_at is not None and chunk.started_at is not None
    assert chunk.completed_at >= chunk.started_at
    found = conn.execute(
        "SELECT chunk_id FROM migration_status.migration_chunk_status "
        "WHERE status = 'failed' AND retry_count >= 3 AND completed_at IS NOT NULL"
    ).fetchall()
    assert found == [(0,)]
    assert store.reset_failed(conn, run_id) == 1
    assert store.list_chunks(conn, key)[0].completed_at is None


def test_release_and_exclude(conn: Conn) -> None:
    run_id, [key] = _run(conn, T1=2)
    claim = _claim(conn, run_id)
    store.release_chunk(conn, claim)
    assert store.list_chunks(conn, key)[0].status == "pending"
    assert store.live_in_progress(conn, run_id) == 0
    again = _claim(conn, run_id, exclude={ChunkKey(key, 0)})
    assert again.key.chunk_id == 1
    assert store.claim_chunk(conn, run_id, "w1", 60, exclude={ChunkKey(key, 0)}) is None
    assert _claim(conn, run_id).key.chunk_id == 0


def test_claim_order_and_table_states(conn: Conn) -> None:
    run_id, [zz, aa] = _run(conn, ZZ=1, AA=1)  # added in this order: ZZ is claimed first
    skipped = store.add_skipped_table(
        conn, run_id=run_id, source_name="src", source_database="DB", source_schema="PUBLIC",
        source_table="OFF", target_database="pg", target_schema="public", target_table="off",
        reason="disabled in the configuration",
    )  # fmt: skip
    conn.commit()
    assert [t.key for t in store.table_rows(conn, run_id)] == [zz, aa, skipped]
    run = store.get_run(conn, run_id)
    assert run is not None and run.total_tables == 3
    store.set_table_status(conn, aa, "failed", "target changed")
    conn.commit()
    assert _claim(conn, run_id).key.table == zz
    assert store.claim_chunk(conn, run_id, "w1", 60) is None  # AA failed, OFF skipped
    off = store.finish_table(conn, skipped)
    assert (off.status, off.error_message) == ("skipped", "disabled in the configuration")


def test_thread_limits(pg_dsn: str, conn: Conn) -> None:
    run_id, [a, b] = _run(conn, A=10, B=2)
    limits = {a: 1, b: 0}
    first = _claim(conn, run_id, table_thread_limits=limits)
    assert first.key.table == a
    assert store.claim_chunk(conn, run_id, "w2", 60, limits) is None  # A at 1, B excluded
    assert _claim(conn, run_id, "w2", table_thread_limits={a: 1}).key.table == b
    _complete(conn, first)
    assert _claim(conn, run_id, table_thread_limits=limits).key.table == a

    # Concurrent claimers cannot overshoot a limit.
    run2, [c] = _run(conn, C=10)
    got: list[ChunkKey] = []
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        with psycopg.connect(pg_dsn) as wc:
            barrier.wait()
            claim = store.claim_chunk(wc, run2, f"w{n}", 60, {c: 2})
            if claim is not None:
                got.append(claim.key)
            barrier.wait()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 2


def test_table_metadata_and_indexes(conn: Conn) -> None:
    _, [key] = _run(conn, T1=1)
    store.update_table_metadata(conn, key, {"columns": [["ID", "id"]]})
    store.set_indexes_disabled(conn, key, [{"name": "ix", "definition": "CREATE INDEX ix ..."}])
    conn.commit()
    table = store.get_table(conn, key)
    assert table is not None and table.indexes_disabled and not table.indexes_restored
    assert table.metadata["columns"] == [["ID", "id"]] and table.metadata["note"] == "T1"
    assert table.metadata["saved_indexes"][0]["name"] == "ix"
    store.set_indexes_restored(conn, key)
    conn.rollback()
    table = store.get_table(conn, key)
    assert table is not None and not table.indexes_restored  # caller txn: rolled back
    store.set_indexes_restored(conn, key)
    conn.commit()
    table = store.get_table(conn, key)
    assert table is not None and table.indexes_restored


def test_committed_by_tells_a_lost_commit_reply_from_a_takeover(conn: Conn) -> None:
    run_id, _ = _run(conn, T1=1)
    claim = _claim(conn, run_id, "w1")
    assert store.committed_by(conn, claim) is None  # claimed, not committed
    conn.rollback()
    _complete(conn, claim, "w1", rows=7)
    assert store.committed_by(conn, claim) == 7  # our commit went through
    conn.rollback()
    other = ClaimedChunk(claim.key, claim.chunk_range, claim.attempts + 1, 0)
    assert store.committed_by(conn, other) is None  # a later claim's commit is not ours
    conn.rollback()

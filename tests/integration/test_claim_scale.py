"""Claiming stays O(log n): at 10^5 chunks the claim query walks an index, never a sort of them."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from snowpg.status import store
from snowpg.status.rows import TableKey
from snowpg.status.schema import ensure_schema

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[Any]
CHUNKS = "migration_status.migration_chunk_status"
CLAIMS = 15  # timed claims per size; the median is compared
# Generous: the claim is ~1 ms either way; a sort of 10^5 pending chunks is 50-100x slower.
FACTOR = 4.0


@pytest.fixture
def conn(pg_dsn: str) -> Iterator[Conn]:
    with psycopg.connect(pg_dsn) as c:
        ensure_schema(c)
        yield c


def _table(conn: Conn, run_id: uuid.UUID, name: str) -> TableKey:
    return store.add_table(
        conn, run_id=run_id, source_name="src", source_database="DB", source_schema="PUBLIC",
        source_table=name, target_database="pg", target_schema="public", target_table=name.lower(),
        chunks=[], estimated_rows=0, chunking_method="range", metadata={},
    )  # fmt: skip


def _fill(conn: Conn, key: TableKey, n: int, completed: int) -> None:
    """``n`` chunks of ``key`` in one statement; the first ``completed`` of them done."""
    conn.execute(
        f"INSERT INTO {CHUNKS} (run_id, source_database, source_schema, source_table, chunk_id,"
        " chunk_range, status, estimated_rows, rows_copied)"
        " SELECT %(run)s, %(db)s, %(sch)s, %(tab)s, i,"
        "  jsonb_build_object('columns', jsonb_build_array('ID'),"
        "    'lower', jsonb_build_array(i::text), 'upper', jsonb_build_array((i + 1)::text)),"
        "  CASE WHEN i < %(done)s THEN 'completed' ELSE 'pending' END, 10,"
        "  CASE WHEN i < %(done)s THEN 10 ELSE 0 END"
        " FROM generate_series(0, %(n)s - 1) i",
        {
            "run": key.run_id,
            "db": key.source_database,
            "sch": key.source_schema,
            "tab": key.source_table,
            "n": n,
            "done": completed,
        },
    )
    conn.execute(
        "UPDATE migration_status.migration_table_status SET total_chunks = %s,"
        " completed_chunks = %s, status = 'in_progress'"
        " WHERE run_id = %s AND source_table = %s",
        (n, completed, key.run_id, key.source_table),
    )


def _run_with(conn: Conn, big_chunks: int) -> uuid.UUID:
    """A run whose first table is done and whose second has ``big_chunks`` chunks, 40% done
    (claims pick up where the run left off, behind the completed chunks)."""
    run_id = store.create_run(conn, source_name="src", config_hash="h", created_by="t", metadata={})
    done = _table(conn, run_id, "DONE")
    _fill(conn, done, 50, 50)
    conn.execute(
        "UPDATE migration_status.migration_table_status SET status = 'completed'"
        " WHERE run_id = %s AND source_table = 'DONE'",
        (run_id,),
    )
    _fill(conn, _table(conn, run_id, "BIG"), big_chunks, big_chunks * 4 // 10)
    _fill(conn, _table(conn, run_id, "LATER"), 10, 0)
    conn.commit()
    return run_id


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def _reads_pending_chunks(node: dict[str, Any]) -> bool:
    """The subtree scans chunks other than the in_progress ones (a table's few busy chunks)."""
    return any(
        n.get("Relation Name") == "migration_chunk_status"
        and "'in_progress'::text)" not in str(n.get("Index Cond", ""))
        for n in _plan_nodes(node)
    )


def _explain(conn: Conn, run_id: uuid.UUID) -> dict[str, Any]:
    query, params = store.candidate_query(run_id, {}, ())
    row = conn.execute(
        sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) ") + query, params, prepare=False
    ).fetchone()
    conn.rollback()  # the row lock the analysed claim took
    assert row is not None
    return dict(row[0][0]["Plan"])


def _claim_seconds(conn: Conn, run_id: uuid.UUID) -> float:
    started = time.perf_counter()
    claim = store.claim_chunk(conn, run_id, "w1", 60)
    seconds = time.perf_counter() - started
    assert claim is not None
    assert store.lock_claim(conn, claim, "w1")
    store.complete_chunk(conn, claim, rows_copied=10, bytes_copied=70, duration_seconds=0.1)
    conn.commit()
    return seconds


def _add_many_tables(conn: Conn, run_id: uuid.UUID, tables: int, chunks: int) -> None:
    """``tables`` more open tables after the others, ``chunks`` pending chunks each."""
    conn.execute(
        "INSERT INTO migration_status.migration_table_status (run_id, source_name,"
        " source_database, source_schema, source_table, target_database, target_schema,"
        " target_table, status, total_chunks, metadata)"
        " SELECT %(run)s, 'src', 'DB', 'PUBLIC', 'T' || t, 'pg', 'public', 't' || t, 'pending',"
        "  %(chunks)s, jsonb_build_object('ordinal', 10 + t) FROM generate_series(1, %(n)s) t",
        {"run": run_id, "n": tables, "chunks": chunks},
    )
    conn.execute(
        f"INSERT INTO {CHUNKS} (run_id, source_database, source_schema, source_table, chunk_id,"
        " chunk_range, status)"
        " SELECT %(run)s, 'DB', 'PUBLIC', 'T' || t, i, '{}'::jsonb, 'pending'"
        " FROM generate_series(1, %(n)s) t, generate_series(0, %(chunks)s - 1) i",
        {"run": run_id, "n": tables, "chunks": chunks},
    )
    conn.commit()


@pytest.mark.parametrize("more_tables", [0, 300])
def test_the_claim_query_walks_the_claimable_index_without_sorting_the_chunks(
    conn: Conn, more_tables: int
) -> None:
    run_id = _run_with(conn, 100_000)
    _add_many_tables(conn, run_id, more_tables, 100)
    for analysed in (False, True):  # a fresh run is claimed before autovacuum analyses it
        plan = _explain(conn, run_id)
        nodes = list(_plan_nodes(plan))
        sorts_over_chunks = [
            n for n in nodes if n["Node Type"] == "Sort" and _reads_pending_chunks(n)
        ]
        assert sorts_over_chunks == [], plan
        probes = [n for n in nodes if n.get("Relation Name") == "migration_chunk_status"]
        claimable = [n for n in probes if n.get("Index Name") == "idx_chunk_status_claimable"]
        assert claimable, plan
        # Rows the probe read: the first claimable chunk, not 10^5 of them.
        read = sum(
            (n["Actual Rows"] + n.get("Rows Removed by Filter", 0)) * n["Actual Loops"]
            for n in claimable
        )
        assert 1 <= read <= 10, (analysed, plan)
        assert [n["Actual Loops"] for n in claimable] == [1], plan  # BIG, the first open table
        conn.execute(f"ANALYZE {CHUNKS}")
        conn.commit()


def test_claim_order_is_the_tables_order_then_chunk_id(conn: Conn) -> None:
    run_id = _run_with(conn, 30)  # BIG: chunks 0-11 done
    got = []
    while (claim := store.claim_chunk(conn, run_id, "w1", 60)) is not None:
        got.append((claim.key.table.source_table, claim.key.chunk_id))
    assert got == [("BIG", i) for i in range(12, 30)] + [("LATER", i) for i in range(10)]


def test_claim_time_at_100k_chunks_is_close_to_claim_time_at_1k(
    conn: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    small_run, large_run = _run_with(conn, 1_000), _run_with(conn, 100_000)
    # The bulk insert wakes autovacuum; its pass over the new rows would be timed with the claims.
    conn.autocommit = True
    conn.execute(f"VACUUM (ANALYZE) {CHUNKS}")
    conn.autocommit = False
    small, large = [], []
    for _ in range(CLAIMS):  # interleaved, so a load spike on the machine hits both sizes
        small.append(_claim_seconds(conn, small_run))
        large.append(_claim_seconds(conn, large_run))
    s, g = statistics.median(small), statistics.median(large)
    with capsys.disabled():
        print(f"\nmedian claim: {s * 1000:.2f} ms at 1k chunks, {g * 1000:.2f} ms at 100k")
    assert g <= FACTOR * s, (small, large)

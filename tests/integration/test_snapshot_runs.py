"""One snapshot per run, on the stand-in: from its query log, every source query of a run (planning,
chunks, verify), in every process of the run, reads AT the point stored with the run; a fresh run
takes a new point; a point past a table's retention stops the run as docs/design.md says.

The stand-in strips the clause before fakesnow runs the query (fakesnow cannot time-travel), so
these tests check what is *sent*, and the retention refusals the stand-in emulates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from snowpg.demo.servers import StandinServer
from tests.fixtures.migration import (
    MIXED_SOURCE_COLS,
    MIXED_TARGET_COLS,
    compare_mixed,
    create_mixed_table,
    make_config,
    run_cli,
    source_rows,
    target_rows,
    write_config,
)

pytestmark = pytest.mark.integration

CHUNK_QUERY = r'^SELECT\s+"ID",\s*"Payer Id"'
_AT = re.compile(r"AT\(TIMESTAMP => '([0-9:. -]+) \+0000'::TIMESTAMP_LTZ\)")


@pytest.fixture
def standin(fakesnow_server: Any) -> Iterator[StandinServer]:
    if not isinstance(fakesnow_server, StandinServer):
        pytest.fail("these tests need the stand-in (unset SNOWPG_TEST_SNOWFLAKE)")
    fakesnow_server.control(reset=True)
    yield fakesnow_server
    fakesnow_server.control(reset=True)


def _config(tmp: Path, sf_database: str, pg_database: str, tables: list[str]) -> Path:
    entries = [
        {"source": t, "target": t.lower(), "batch_size": 100, "truncate_onstart": True}
        for t in tables
    ]
    return write_config(tmp / "c.json", make_config(sf_database, pg_database, entries))


def _runs(dsn: str) -> list[tuple[str, str | None, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT run_id::text, metadata->'snapshot'->>'timestamp', status"
            " FROM migration_status.migration_runs ORDER BY started_at"
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def _table_reads(queries: list[str], sf_database: str) -> list[str]:
    """The queries that read a source table (not the catalog)."""
    ref = re.compile(rf'FROM "{sf_database}"\."PUBLIC"\."(ORDERS|ITEMS)"')
    return [q for q in queries if ref.search(q)]


def _points(query: str, sf_database: str) -> list[str | None]:
    """For each reference to a source table in ``query``, the point its AT clause names."""
    ref = re.compile(rf'"{sf_database}"\."PUBLIC"\."(?:ORDERS|ITEMS)"( {_AT.pattern})?')
    return [m.group(2) for m in ref.finditer(query)]


def test_every_query_of_a_run_reads_at_its_stored_point_in_every_process(
    standin: StandinServer,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_mixed_table(sf_conn, "ORDERS", 600)
    create_mixed_table(sf_conn, "ITEMS", 250)
    config = _config(tmp_path, sf_database, pg_database, ["ORDERS", "ITEMS"])
    logs: list[list[str]] = []
    # exit 3: partial (the other table is left for a later process of the same run)
    for args, code in ((["--tables", "ORDERS"], 3), ([], 0), (["--verify"], 0)):
        since = standin.stats()["queries"]
        result = run_cli("migrate", "--config", str(config), *args, env=server_env)
        assert result.returncode == code, result.stdout + result.stderr
        logs.append(standin.queries(since))
    runs = _runs(pg_dsn)
    assert len(runs) == 1, runs  # the second and third processes resumed the first one's run
    run_id, point, status = runs[0]
    assert status == "completed" and point is not None
    # Process 1 planned and copied ORDERS; process 2 planned ITEMS and copied it; process 3 found
    # the run complete and verified it (migrate --verify).
    first, second, third = (_table_reads(log, sf_database) for log in logs)
    chunk_reads = [q for q in first + second if re.match(CHUNK_QUERY, q)]
    assert len(chunk_reads) >= 6 + 3, len(chunk_reads)
    verify_reads = [q for q in third if "MD5(" in q]
    assert verify_reads, third
    planning = [q for q in first + second if "COUNT" in q or "NTILE" in q or "AVG(" in q]
    assert planning
    for query in first + second + third:
        assert _points(query, sf_database) and set(_points(query, sf_database)) == {point}, query
    compare_mixed(
        source_rows(sf_conn, "ITEMS", MIXED_SOURCE_COLS, "ID"),
        target_rows(pg_dsn, "public", "items", MIXED_TARGET_COLS, "id"),
    )

    # A fresh run takes a new point, and reads at it.
    since = standin.stats()["queries"]
    result = run_cli("migrate", "--config", str(config), "--no-resume", env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    runs = _runs(pg_dsn)
    assert len(runs) == 2 and runs[0][0] == run_id
    new_point = runs[1][1]
    assert new_point is not None and new_point > point
    reads = _table_reads(standin.queries(since), sf_database)
    assert reads and all(set(_points(q, sf_database)) == {new_point} for q in reads)


def _chunks(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM migration_status.migration_chunk_status GROUP BY status"
        ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def test_a_point_past_retention_stops_the_run_and_a_resume_is_refused(
    standin: StandinServer,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_mixed_table(sf_conn, "ORDERS", 600)
    config = _config(tmp_path, sf_database, pg_database, ["ORDERS"])

    # 1. The snapshot expires while chunks are read (the stand-in keeps 5 s of Time Travel and
    # holds each chunk query 8 s): Snowflake's 000707 fails the chunks in flight, and no further
    # chunk of the table is claimed.
    standin.control(retention_s=5.0, hold={CHUNK_QUERY: 8.0})
    since = standin.stats()["queries"]
    result = run_cli("migrate", "--config", str(config), env=server_env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    sent = [q for q in standin.queries(since) if re.match(CHUNK_QUERY, q)]
    chunks = _chunks(pg_dsn)
    assert 1 <= chunks.get("failed", 0) == len(sent) <= 2, (chunks, len(sent))  # 2 threads
    assert chunks.get("pending", 0) >= 4 and "completed" not in chunks
    with psycopg.connect(pg_dsn) as conn:
        errors = [
            r[0]
            for r in conn.execute(
                "SELECT error_message FROM migration_status.migration_chunk_status"
                " WHERE status = 'failed'"
            )
        ]
    assert all("Time travel data is not available for table ORDERS" in e for e in errors)
    assert all("DATA_RETENTION_TIME_IN_DAYS" in e and "--no-resume" in e for e in errors)

    # 2. A day later (the run's point moved back two days; fakesnow reports the default
    # retention of 1 day), a resume is refused before anything is planned or copied.
    standin.control(reset=True)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "UPDATE migration_status.migration_runs SET metadata = jsonb_set(metadata,"
            " '{snapshot,timestamp}', to_jsonb(to_char((metadata->'snapshot'->>'timestamp')"
            "::timestamp - interval '2 days', 'YYYY-MM-DD HH24:MI:SS.US')))"
        )
    since = standin.stats()["queries"]
    result = run_cli("migrate", "--config", str(config), env=server_env)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert f"table {sf_database}.PUBLIC.ORDERS keeps 1 day(s) of Time Travel" in output
    assert "(DATA_RETENTION_TIME_IN_DAYS = 1)" in output and "ALTER TABLE" in output
    assert not [q for q in standin.queries(since) if re.match(CHUNK_QUERY, q)]
    assert _chunks(pg_dsn) == chunks  # nothing reset, claimed or copied

    # 3. The hint's way out: a fresh run, with a new point, completes.
    result = run_cli("migrate", "--config", str(config), "--no-resume", env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    compare_mixed(
        source_rows(sf_conn, "ORDERS", MIXED_SOURCE_COLS, "ID"),
        target_rows(pg_dsn, "public", "orders", MIXED_TARGET_COLS, "id"),
    )

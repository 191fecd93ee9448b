"""Peak RSS of ``snowpg migrate`` stays within the documented memory formula when every chunk's
result arrives as several downloaded, gzip-compressed result chunks (as the service sends a large
result). The formula's numbers live in ``snowpg.plan.sizing``; docs/OPTIMIZATION.md quotes them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from bench.memory import arrow_row_bytes
from bench.run import AS_INSTALLED

from bench import procs, schema
from snowpg.demo.servers import StandinServer
from snowpg.plan.sizing import (
    BASE_RSS_MB,
    EXTRA_WORKERS,
    PIECE_FACTOR,
    WORKER_MB,
    peak_rss_bound_mb,
)
from tests.fixtures.migration import chunk_rows, cli_command, count_rows, make_config, write_config

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "OPTIMIZATION.md"
ROWS = 400_000
THREADS, BATCH, MAX_CHUNK_MB = 4, 100_000, 32.0  # 4 chunks of ~23 MB, one per worker
RESULT_CHUNK_BYTES = 2**20  # the service's result chunk: ~22 pieces per chunk query


def test_doc_quotes_the_formula_of_the_code() -> None:
    text = " ".join(DOC.read_text().split())
    found = re.search(
        r"peak RSS <= ~(\d+) MB \+ \(parallel_threads \+ (\d+)\) x "
        r"\(~(\d+) MB \+ piece_bytes x ~([\d.]+)\)",
        text,
    )
    assert found, "docs/OPTIMIZATION.md no longer states the memory formula"
    numbers = tuple(float(g) for g in found.groups())
    assert numbers == (BASE_RSS_MB, EXTRA_WORKERS, WORKER_MB, PIECE_FACTOR)


def test_peak_rss_within_formula_with_results_in_downloaded_chunks(
    fakesnow_server: Any,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    if not isinstance(fakesnow_server, StandinServer):
        pytest.fail("this test needs the stand-in (unset SNOWPG_TEST_SNOWFLAKE)")
    standin = fakesnow_server
    schema.create_table(sf_conn, sf_database, ROWS)
    reader_conn = standin.connect(
        database=sf_database, schema="PUBLIC", arrow_number_to_decimal=True
    )
    row_bytes = arrow_row_bytes(reader_conn)
    reader_conn.close()
    bound = peak_rss_bound_mb(THREADS, BATCH, row_bytes, MAX_CHUNK_MB, RESULT_CHUNK_BYTES)
    # Without the downloads (one inline piece per chunk) the same run may use this much.
    assert bound < peak_rss_bound_mb(THREADS, BATCH, row_bytes, MAX_CHUNK_MB) - 100

    tables = [{"source": schema.TABLE, "target": "bench"}]
    config = make_config(
        sf_database,
        pg_database,
        tables,
        parallel_threads=THREADS,
        batch_size=BATCH,
        max_chunk_mb=MAX_CHUNK_MB,
    )
    path = write_config(tmp_path / "c.json", config)
    standin.control(reset=True, chunk_bytes=RESULT_CHUNK_BYTES)
    try:
        before = standin.stats()["chunks_served"]
        # As installed (no pandas importable), which is what the formula's base is measured on.
        env = {**server_env, "PYTHONPATH": str(AS_INSTALLED)}
        group = procs.run_together(
            [cli_command("migrate", "--config", str(path))], env, tmp_path, "m"
        )
        downloaded = standin.stats()["chunks_served"] - before
    finally:
        standin.control(reset=True)
    proc = group.procs[0]
    assert proc.returncode == 0, proc.log.read_text()[-3000:]
    assert count_rows(pg_dsn, "public", "bench") == (ROWS, ROWS)
    chunks = len(chunk_rows(pg_dsn))
    assert chunks >= THREADS
    assert downloaded >= 3 * chunks, (downloaded, chunks)
    assert proc.max_rss_mb <= bound, (
        f"peak RSS {proc.max_rss_mb:.0f} MB > formula {bound:.0f} MB "
        f"({THREADS} threads, {row_bytes:.0f} B rows, result chunks of {RESULT_CHUNK_BYTES} B)"
    )

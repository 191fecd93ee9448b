"""Wide rows get smaller chunks (max_chunk_mb); narrow rows keep batch_size. Real fakesnow + PG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.migration import chunk_rows, count_rows, make_config, run_cli, write_config

pytestmark = pytest.mark.integration


def test_wide_rows_are_cut_by_bytes_narrow_rows_by_batch_size(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cur = sf_conn.cursor()
    cur.execute("CREATE TABLE WIDE (ID NUMBER(38,0) PRIMARY KEY, BODY VARCHAR, DOC VARIANT)")
    cur.execute(
        "INSERT INTO WIDE SELECT seq4(), repeat('x', 900), object_construct('k', seq4()) "
        "FROM TABLE(GENERATOR(ROWCOUNT => 2000))"
    )
    cur.execute("CREATE TABLE NARROW (ID NUMBER(38,0) PRIMARY KEY, N NUMBER(10,0))")
    cur.execute("INSERT INTO NARROW SELECT seq4(), seq4() FROM TABLE(GENERATOR(ROWCOUNT => 2000))")
    # ~0.1 MiB per chunk: about 110 rows of ~950 bytes; NARROW (~26 bytes a row) keeps 1,000.
    config = make_config(
        sf_database,
        pg_database,
        [{"source": "WIDE"}, {"source": "NARROW"}],
        batch_size=1000,
        max_chunk_mb=0.1,
    )
    cfg = write_config(tmp_path / "c.json", config)
    plan = run_cli("plan", "--config", str(cfg), env=server_env)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "instead of batch_size 1,000 (max_chunk_mb 0.1)" in plan.stdout + plan.stderr

    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    chunks = chunk_rows(pg_dsn)
    wide = [c for c in chunks if c[0] == "WIDE"]
    narrow = [c for c in chunks if c[0] == "NARROW"]
    assert 15 <= len(wide) <= 25, len(wide)
    assert max(c[3] for c in wide) <= 130
    assert len(narrow) == 2
    assert count_rows(pg_dsn, "public", "wide") == (2000, 2000)
    assert count_rows(pg_dsn, "public", "narrow") == (2000, 2000)

"""The 1M-row acceptance case: a clean migration verifies with zero differences; one changed
value, one missing row and one extra row are each found by key. Slow: ~1-2 minutes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.migration import create_mixed_table, make_config, run_cli, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROWS = 1_000_000


def test_one_million_rows_clean_then_three_planted_differences(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_mixed_table(sf_conn, "ORDERS", ROWS)
    cfg = write_config(
        tmp_path / "c.json",
        make_config(
            sf_database, pg_database, [{"source": "ORDERS"}], batch_size=100_000, parallel_threads=2
        ),
    )
    result = run_cli("migrate", "--config", str(cfg), env=server_env, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    started = time.monotonic()
    clean = run_cli("verify", "--config", str(cfg), env=server_env, timeout=900)
    seconds = time.monotonic() - started
    out = clean.stdout + clean.stderr
    assert clean.returncode == 0, out
    assert "1 of 1 table(s) verified equal, 0 differing row(s)" in out
    print(f"verify of {ROWS:,} rows: {seconds:.1f}s")

    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE public.orders SET note = note || '.' WHERE id = 123457")
        conn.execute("DELETE FROM public.orders WHERE id = 654321")
        conn.execute("INSERT INTO public.orders (id) VALUES (%s)", (ROWS + 1,))
    planted = run_cli("verify", "--config", str(cfg), env=server_env, timeout=900)
    out = planted.stdout + planted.stderr
    assert planted.returncode == 1, out
    assert "changed  ID=123457" in out
    assert "missing  ID=654321" in out
    assert f"extra    ID={ROWS + 1}" in out
    assert "3 differing row(s)" in out

"""snowpg verify against real servers: clean copies match; planted differences are found by key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.migration import create_mixed_table, make_config, run_cli, write_config

pytestmark = pytest.mark.integration


def _migrate(
    sf_conn: Any,
    sf_database: str,
    pg_database: str,
    tmp_path: Path,
    env: dict[str, str],
    rows: int,
    batch_size: int,
) -> Path:
    create_mixed_table(sf_conn, "ORDERS", rows)
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [{"source": "ORDERS"}], batch_size=batch_size),
    )
    result = run_cli("migrate", "--config", str(cfg), "--verify", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 of 1 table(s) verified equal, 0 differing row(s)" in result.stdout
    return cfg


def _chunk_verify(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT chunk_id, verify_status, verify_detail FROM migration_status.migration_chunk_status"
            " ORDER BY chunk_id"
        ).fetchall()


def _plant_and_verify(cfg: Path, dsn: str, env: dict[str, str], rows: int) -> None:
    with psycopg.connect(dsn) as conn:
        # One changed value (row count unchanged), one missing row, one extra row.
        conn.execute("UPDATE public.orders SET amount = amount + 0.01 WHERE id = %s", (rows // 3,))
        conn.execute("DELETE FROM public.orders WHERE id = %s", (rows // 2,))
        conn.execute(
            "INSERT INTO public.orders (id, \"Payer Id\", note) VALUES (%s, 'x', 'planted')",
            (rows + 5,),
        )
    result = run_cli("verify", "--config", str(cfg), env=env)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert f"changed  ID={rows // 3}" in out
    assert f"missing  ID={rows // 2}" in out
    assert f"extra    ID={rows + 5}" in out
    assert "3 differing row(s)" in out
    states = _chunk_verify(dsn)
    bad = [r for r in states if r[1] != "match"]
    assert {r[1] for r in states} <= {"match", "mismatch"}
    kinds = sorted(k["kind"] for r in bad for k in r[2]["keys"])
    assert kinds == ["changed", "extra", "missing"]
    with psycopg.connect(dsn) as conn:
        table = conn.execute(
            "SELECT verify_status, verify_detail FROM migration_status.migration_table_status"
        ).fetchone()
    assert table is not None and table[0] == "mismatch"
    assert (table[1]["missing"], table[1]["extra"], table[1]["changed"]) == (1, 1, 1)


def test_clean_copy_verifies_and_planted_differences_are_found(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    rows = 20_000
    cfg = _migrate(sf_conn, sf_database, pg_database, tmp_path, server_env, rows, 2_000)
    states = _chunk_verify(pg_dsn)
    assert len(states) >= 10 and {r[1] for r in states} == {"match"}
    assert sum(r[2]["source_rows"] for r in states) == rows
    _plant_and_verify(cfg, pg_dsn, server_env, rows)


@pytest.mark.slow  # the default run's changed value keeps the row count too
def test_a_swapped_value_that_keeps_count_and_sum_is_caught(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cfg = _migrate(sf_conn, sf_database, pg_database, tmp_path, server_env, 3_000, 1_000)
    with psycopg.connect(pg_dsn) as conn:
        # Swap two rows' amounts: row count, and even the column total, stay the same.
        conn.execute(
            "UPDATE public.orders o SET amount = s.amount FROM public.orders s"
            " WHERE (o.id, s.id) IN ((10, 11), (11, 10))"
        )
        changed = conn.execute(
            "SELECT count(*) FROM public.orders a JOIN public.orders b ON a.id = 10 AND b.id = 11"
            " WHERE a.amount <> b.amount"
        ).fetchone()
    assert changed == (1,)  # the two amounts differ, so the swap changed both rows
    result = run_cli("verify", "--config", str(cfg), env=server_env)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "changed  ID=10" in out and "changed  ID=11" in out
    assert "0 missing, 0 extra, 2 changed" in out

"""End to end through the real CLI: fakesnow over HTTP -> snowpg process -> PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.migration import (
    MIXED_SOURCE_COLS,
    MIXED_TARGET_COLS,
    chunk_rows,
    compare_mixed,
    count_rows,
    create_mixed_table,
    make_config,
    run_cli,
    source_rows,
    target_rows,
    write_config,
)

pytestmark = pytest.mark.integration


def test_migrate_creates_table_and_copies_every_row_exactly(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_mixed_table(sf_conn, "ORDERS", 12_345)
    cfg = write_config(
        tmp_path / "config.json",
        make_config(
            sf_database, pg_database, [{"source": "ORDERS"}], parallel_threads=3, batch_size=1000
        ),
    )
    result = run_cli("migrate", "--source", "src", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr

    compare_mixed(
        source_rows(sf_conn, "ORDERS", MIXED_SOURCE_COLS, "ID"),
        target_rows(pg_dsn, "public", "orders", MIXED_TARGET_COLS, "id"),
    )
    chunks = chunk_rows(pg_dsn)
    assert len(chunks) >= 12
    assert {c[2] for c in chunks} == {"completed"}
    assert sum(c[3] for c in chunks) == 12_345
    # The summary's row count is the number of rows in the target.
    assert "12,345" in result.stdout
    with psycopg.connect(pg_dsn) as conn:
        run = conn.execute(
            "SELECT status, total_rows_copied, completed_tables, failed_tables FROM migration_status.migration_runs"
        ).fetchall()
        table = conn.execute(
            "SELECT status, total_chunks, completed_chunks, failed_chunks, total_rows_copied "
            "FROM migration_status.migration_table_status"
        ).fetchall()
        pk = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'public.orders'::regclass AND i.indisprimary"
        ).fetchall()
    assert run == [("completed", 12_345, 1, 0)]
    assert table == [("completed", len(chunks), len(chunks), 0, 12_345)]
    assert pk == [("id",)]


def test_existing_target_missing_a_column_and_mixed_case_names(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cur = sf_conn.cursor()
    cur.execute(
        'CREATE TABLE DIMPAYER ("Payer Id" VARCHAR(20) PRIMARY KEY, "Payer Name" VARCHAR, "Is Active" BOOLEAN, SCORE NUMBER(10,3))'
    )
    cur.execute(
        "INSERT INTO DIMPAYER SELECT 'P-' || seq4(), 'Name ' || seq4(), mod(seq4(), 4) <> 0, "
        "(seq4() / 7)::number(10,3) FROM TABLE(GENERATOR(ROWCOUNT => 3000))"
    )
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE SCHEMA analytics")
        # The user's own table: no "Payer Name" column, and names in another case.
        conn.execute(
            'CREATE TABLE analytics.dimpayer ("payer id" text PRIMARY KEY, "Is Active" boolean, score numeric(10,3), loaded_at timestamptz DEFAULT now())'
        )
    cfg = write_config(
        tmp_path / "config.json",
        make_config(
            sf_database,
            pg_database,
            [
                {
                    "source": "DIMPAYER",
                    "target": "dimpayer",
                    "source_filter": '"Is Active" = TRUE',
                    "chunking_columns": ["Payer Id"],
                    "chunking_column_types": ["varchar"],
                }
            ],
            target_schema="analytics",
            batch_size=500,
        ),
    )
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Payer Name" in result.stdout + result.stderr  # the left-out column is named
    cur.execute(
        'SELECT "Payer Id", "Is Active", SCORE FROM DIMPAYER WHERE "Is Active" = TRUE ORDER BY "Payer Id"'
    )
    expected = cur.fetchall()
    with psycopg.connect(pg_dsn) as conn:
        got = conn.execute(
            'SELECT "payer id", "Is Active", score FROM analytics.dimpayer ORDER BY "payer id" COLLATE "C"'
        ).fetchall()
        loaded = conn.execute(
            "SELECT count(*) FROM analytics.dimpayer WHERE loaded_at IS NULL"
        ).fetchone()
    assert sorted(got) == sorted(expected) and len(got) == 2250
    assert loaded == (0,)


def test_created_table_keeps_mixed_case_names(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cur = sf_conn.cursor()
    cur.execute(
        'CREATE TABLE "Payers" ("Payer Id" INT PRIMARY KEY, PAYER_NAME VARCHAR, "lower" INT)'
    )
    cur.execute(
        "INSERT INTO \"Payers\" SELECT seq4(), 'n' || seq4(), seq4() FROM TABLE(GENERATOR(ROWCOUNT => 100))"
    )
    cfg = write_config(
        tmp_path / "c.json", make_config(sf_database, pg_database, [{"source": "Payers"}])
    )
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    with psycopg.connect(pg_dsn) as conn:
        cols = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'payers' ORDER BY ordinal_position"
        ).fetchall()
        n = conn.execute('SELECT count(*), sum("Payer Id") FROM public.payers').fetchone()
    assert [c[0] for c in cols] == ["Payer Id", "payer_name", "lower"]
    assert n == (100, sum(range(100)))


def test_fresh_run_into_non_empty_target_is_refused_and_truncate_onstart_reloads(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_mixed_table(sf_conn, "ORDERS", 2000)
    cfg_path = tmp_path / "config.json"
    write_config(cfg_path, make_config(sf_database, pg_database, [{"source": "ORDERS"}]))
    first = run_cli("migrate", "--config", str(cfg_path), env=server_env)
    assert first.returncode == 0, first.stdout + first.stderr
    # The same command again (a cron job, a late worker): the run is complete, nothing to do.
    again = run_cli("migrate", "--config", str(cfg_path), env=server_env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already complete" in again.stdout + again.stderr
    assert count_rows(pg_dsn, "public", "orders") == (2000, 2000)
    # Asking for a fresh load into the filled target is refused, naming the fix.
    fresh = run_cli("migrate", "--config", str(cfg_path), "--no-resume", env=server_env)
    assert fresh.returncode == 2
    assert "already has rows" in fresh.stderr and "truncate_onstart" in fresh.stderr
    assert count_rows(pg_dsn, "public", "orders") == (2000, 2000)

    write_config(
        cfg_path,
        make_config(sf_database, pg_database, [{"source": "ORDERS", "truncate_onstart": True}]),
    )
    third = run_cli("migrate", "--config", str(cfg_path), env=server_env)
    assert third.returncode == 0, third.stdout + third.stderr
    assert count_rows(pg_dsn, "public", "orders") == (2000, 2000)


def test_max_seconds_gives_partial_then_resume_completes_and_changed_config_is_refused(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_mixed_table(sf_conn, "ORDERS", 6000)
    cfg_path = tmp_path / "config.json"
    write_config(
        cfg_path,
        make_config(
            sf_database, pg_database, [{"source": "ORDERS"}], batch_size=500, parallel_threads=1
        ),
    )
    first = run_cli("migrate", "--config", str(cfg_path), "--max-seconds", "0", env=server_env)
    assert first.returncode == 3, first.stdout + first.stderr
    assert "partial" in first.stdout
    assert count_rows(pg_dsn, "public", "orders")[0] < 6000

    changed = make_config(
        sf_database, pg_database, [{"source": "ORDERS", "source_filter": "ID < 10"}], batch_size=500
    )
    write_config(tmp_path / "changed.json", changed)
    refused = run_cli("migrate", "--config", str(tmp_path / "changed.json"), env=server_env)
    assert refused.returncode == 2 and "different configuration" in refused.stderr
    assert "--no-resume" in refused.stderr

    resumed = run_cli("migrate", "--config", str(cfg_path), env=server_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resumed" in resumed.stdout
    assert count_rows(pg_dsn, "public", "orders") == (6000, 6000)


def test_disable_index_drops_and_restores_secondary_indexes(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_mixed_table(sf_conn, "ORDERS", 3000)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            'CREATE TABLE public.orders (id numeric(38,0) PRIMARY KEY, "Payer Id" varchar(30), amount numeric(12,2), note text)'
        )
        conn.execute('CREATE INDEX orders_payer ON public.orders ("Payer Id")')
        conn.execute(
            "CREATE INDEX orders_amount_note ON public.orders (amount) WHERE note IS NOT NULL"
        )
    cfg = write_config(
        tmp_path / "c.json",
        make_config(
            sf_database, pg_database, [{"source": "ORDERS", "disable_index": True}], batch_size=700
        ),
    )
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    with psycopg.connect(pg_dsn) as conn:
        idx = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'orders' ORDER BY indexname"
        ).fetchall()
        flags = conn.execute(
            "SELECT indexes_disabled, indexes_restored FROM migration_status.migration_table_status"
        ).fetchone()
    names = [i[0] for i in idx]
    assert names == ["orders_amount_note", "orders_payer", "orders_pkey"]
    assert "WHERE (note IS NOT NULL)" in idx[0][1]
    assert flags == (True, True)
    assert count_rows(pg_dsn, "public", "orders") == (3000, 3000)


def test_tables_filter_and_disabled_tables(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    for name in ("A1", "B1", "C1"):
        create_mixed_table(sf_conn, name, 300)
    cfg = write_config(
        tmp_path / "c.json",
        make_config(
            sf_database,
            pg_database,
            [{"source": "A1"}, {"source": "B1"}, {"source": "C1", "enabled": False}],
        ),
    )
    result = run_cli("migrate", "--config", str(cfg), "--tables", "b1", env=server_env)
    # b1 is done, but the run is partial (a1 remains): README's exit code 3.
    assert result.returncode == 3, result.stdout + result.stderr
    assert "other tables remain" in result.stderr
    with psycopg.connect(pg_dsn) as conn:
        tables = {
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    assert tables == {"b1"}
    rest = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert rest.returncode == 0, rest.stdout + rest.stderr
    with psycopg.connect(pg_dsn) as conn:
        tables = {
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    assert tables == {"a1", "b1"}
    assert count_rows(pg_dsn, "public", "a1") == (300, 300)

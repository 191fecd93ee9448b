"""Source and target set-up shared by the state machine tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from tests.fixtures.migration import (
    MIXED_SOURCE_COLS,
    MIXED_TARGET_COLS,
    NO_PK_TARGET,
    compare_mixed,
    count_rows,
    create_mixed_table,
    make_config,
    source_rows,
    target_rows,
    write_config,
)


def slow_target(dsn: str, seconds: float) -> None:
    """Create the target table; every COPY into it then takes at least ``seconds``."""
    with psycopg.connect(dsn) as conn:
        conn.execute(NO_PK_TARGET)
        conn.execute(
            "CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$"
        )
        conn.execute(
            "CREATE TRIGGER slow AFTER INSERT ON public.orders "
            "FOR EACH STATEMENT EXECUTE FUNCTION public.slow()"
        )


def setup_orders(
    sf_conn: Any,
    sf_database: str,
    pg_database: str,
    pg_dsn: str,
    tmp_path: Path,
    *,
    rows: int,
    batch_size: int,
    chunk_seconds: float,
    **settings: Any,
) -> Path:
    create_mixed_table(sf_conn, "ORDERS", rows)
    slow_target(pg_dsn, chunk_seconds)
    config = make_config(
        sf_database, pg_database, [{"source": "ORDERS"}], batch_size=batch_size, **settings
    )
    return write_config(tmp_path / "config.json", config)


def assert_target_equals_source(sf_conn: Any, pg_dsn: str, rows: int) -> None:
    assert count_rows(pg_dsn, "public", "orders") == (rows, rows)
    compare_mixed(
        source_rows(sf_conn, "ORDERS", MIXED_SOURCE_COLS, "ID"),
        target_rows(pg_dsn, "public", "orders", MIXED_TARGET_COLS, "id"),
    )


def chunk_claims(dsn: str) -> list[tuple[int, str, int, int]]:
    """(chunk_id, status, rows_copied, attempts) of every chunk."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT chunk_id, status, rows_copied, attempts "
            "FROM migration_status.migration_chunk_status ORDER BY chunk_id"
        ).fetchall()

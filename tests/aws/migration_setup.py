"""Source and target set-up shared by the state machine tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from tests.fixtures.migration import (
    compare_mixed,
    count_rows,
    create_mixed_table,
    make_config,
    source_rows,
    target_rows,
    write_config,
)

SOURCE_COLS = [
    "ID",
    "Payer Id",
    "AMOUNT",
    "QTY",
    "RATIO",
    "FLAG",
    "D",
    "TS",
    "TSZ",
    "DOC",
    "BLOB",
    "NOTE",
]
TARGET_COLS = [
    "id",
    "Payer Id",
    "amount",
    "qty",
    "ratio",
    "flag",
    "d",
    "ts",
    "tsz",
    "doc",
    "blob",
    "note",
]

# snowpg's own column mapping, without a primary key: a chunk copied twice shows up as duplicates.
NO_PK_TARGET = (
    'CREATE TABLE public.orders (id numeric(38,0), "Payer Id" varchar(30), amount numeric(12,2), '
    "qty numeric(38,0), ratio double precision, flag boolean, d date, ts timestamp, tsz timestamptz, "
    "doc jsonb, blob bytea, note text)"
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
        source_rows(sf_conn, "ORDERS", SOURCE_COLS, "ID"),
        target_rows(pg_dsn, "public", "orders", TARGET_COLS, "id"),
    )


def chunk_claims(dsn: str) -> list[tuple[int, str, int, int]]:
    """(chunk_id, status, rows_copied, attempts) of every chunk."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT chunk_id, status, rows_copied, attempts "
            "FROM migration_status.migration_chunk_status ORDER BY chunk_id"
        ).fetchall()

"""Source table and comparisons shared by the incremental tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

# Two-column key with spaces and mixed case; a watermark with a space too.
COLUMNS = (
    '"Region Code" VARCHAR(10), "Item Id" NUMBER(38,0), VAL VARCHAR, AMOUNT NUMBER(12,2), '
    '"Updated At" TIMESTAMP_NTZ'
)
KEYS = ["Region Code", "Item Id"]
WATERMARK = "Updated At"


def create_table(sf_conn: Any, name: str, rows: int) -> None:
    cur = sf_conn.cursor()
    cur.execute(f"CREATE OR REPLACE TABLE {name} ({COLUMNS})")
    cur.execute(
        f"INSERT INTO {name} SELECT 'R' || to_varchar(mod(seq4(), 3)), seq4(), 'v' || seq4(), "
        "(mod(seq4() * 37, 100000) / 100)::number(12,2), "
        "dateadd(second, seq4(), '2024-01-01 00:00:00'::timestamp_ntz) "
        f"FROM TABLE(GENERATOR(ROWCOUNT => {rows}))"
    )
    cur.close()


def execute(sf_conn: Any, *statements: str) -> None:
    cur = sf_conn.cursor()
    for s in statements:
        cur.execute(s)
    cur.close()


def change_rows(sf_conn: Any, name: str, *, update_mod: int, insert: int, start_id: int) -> None:
    """Update every ``update_mod``-th row (new VAL, newer watermark) and insert ``insert`` rows."""
    execute(
        sf_conn,
        f"UPDATE {name} SET VAL = 'changed ' || \"Item Id\", AMOUNT = AMOUNT + 1, "
        '"Updated At" = dateadd(day, 400, "Updated At") '
        f'WHERE mod("Item Id", {update_mod}) = 1',
        f"INSERT INTO {name} SELECT 'R' || to_varchar(mod(seq4(), 3)), {start_id} + seq4(), "
        "'new ' || seq4(), 1.25, dateadd(second, seq4(), '2025-06-01 00:00:00'::timestamp_ntz) "
        f"FROM TABLE(GENERATOR(ROWCOUNT => {insert}))",
    )


def source_set(sf_conn: Any, name: str) -> list[tuple[Any, ...]]:
    cur = sf_conn.cursor()
    cur.execute(f'SELECT "Region Code", "Item Id", VAL, AMOUNT, "Updated At" FROM {name}')
    rows = [(r[0], Decimal(r[1]), r[2], r[3], r[4]) for r in cur.fetchall()]
    cur.close()
    return sorted(rows, key=lambda r: (r[0], r[1]))


def target_set(dsn: str, table: str, flag: str | None = None) -> list[tuple[Any, ...]]:
    cols = ["Region Code", "Item Id", "val", "amount", "Updated At"]
    where = sql.SQL("WHERE NOT {}").format(sql.Identifier(flag)) if flag else sql.SQL("")
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            sql.SQL("SELECT {} FROM public.{} {}").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in cols), sql.Identifier(table), where
            )
        ).fetchall()
    return sorted([tuple(r) for r in rows], key=lambda r: (r[0], r[1]))


def scalar(dsn: str, query: str) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
    return row[0] if row else None

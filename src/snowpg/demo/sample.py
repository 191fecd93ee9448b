"""Sample tables for ``snowpg demo``, generated inside the fakesnow server (no data files)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

DATABASE = "DEMO"
SCHEMA = "SALES"

# (table, DDL columns, SELECT list over table(generator(...)), row count divisor of --rows)
_TABLES: list[tuple[str, str, str, int]] = [
    (
        "ORDERS",
        'ORDER_ID NUMBER(38,0) PRIMARY KEY, "Customer Id" VARCHAR(20), AMOUNT NUMBER(12,2), '
        "QUANTITY INT, DISCOUNT FLOAT, IS_GIFT BOOLEAN, ORDER_DATE DATE, CREATED_AT TIMESTAMP_NTZ, "
        "UPDATED_AT TIMESTAMP_TZ, DETAILS VARIANT, NOTE VARCHAR",
        "seq4(), 'C-' || lpad(to_varchar(mod(seq4() * 7919, 50000)), 6, '0'), "
        "(mod(seq4() * 37, 100000) / 100)::number(12,2), mod(seq4(), 17) + 1, "
        "mod(seq4(), 9) / 8.0, "
        "mod(seq4(), 11) = 0, dateadd(day, mod(seq4(), 3650), '2015-01-01'::date), "
        "dateadd(second, seq4(), '2020-01-01 00:00:00'::timestamp_ntz), "
        "dateadd(second, seq4() * 3, '2021-06-01 12:00:00'::timestamp_tz), "
        "object_construct('channel', iff(mod(seq4(), 2) = 0, 'web', 'store'), "
        "'items', array_construct(mod(seq4(), 5), mod(seq4(), 7))), "
        "iff(mod(seq4(), 5) = 0, null, 'note ' || seq4())",
        1,
    ),
    (
        "CUSTOMERS",
        '"Customer Id" VARCHAR(20) PRIMARY KEY, NAME VARCHAR(100), COUNTRY VARCHAR(2), '
        '"Signup Date" DATE, ACTIVE BOOLEAN',
        "'C-' || lpad(to_varchar(seq4()), 6, '0'), 'Customer ' || seq4(), "
        "iff(mod(seq4(), 3) = 0, 'DE', iff(mod(seq4(), 3) = 1, 'US', 'JP')), "
        "dateadd(day, mod(seq4(), 2000), '2018-01-01'::date), mod(seq4(), 4) <> 0",
        20,
    ),
    (
        "EVENTS",  # no primary key: shows how snowpg chunks a table without one
        "EVENT_TIME TIMESTAMP_NTZ, KIND VARCHAR(20), PAYLOAD VARIANT",
        "dateadd(millisecond, seq4() * 250, '2024-01-01 00:00:00'::timestamp_ntz), "
        "iff(mod(seq4(), 2) = 0, 'click', 'view'), object_construct('n', seq4())",
        10,
    ),
]


def create_sample_data(conn: Any, rows: int) -> dict[str, int]:
    """Create the demo database and tables; returns rows per table."""
    cur = conn.cursor()
    cur.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {DATABASE}.{SCHEMA}")
    counts: dict[str, int] = {}
    for name, columns, select, divisor in _TABLES:
        n = max(rows // divisor, 1)
        fq = f"{DATABASE}.{SCHEMA}.{name}"
        cur.execute(f"CREATE OR REPLACE TABLE {fq} ({columns})")
        cur.execute(
            f"INSERT INTO {fq} SELECT {select} FROM TABLE(GENERATOR(ROWCOUNT => {int(n)}))"  # noqa: S608 - constants above
        )
        counts[name] = n
    cur.close()
    return counts


def demo_config(threads: int, batch_size: int) -> dict[str, Any]:
    """A config.json for the demo; credentials come from the environment the demo sets."""
    return {
        "parallel_threads": threads,
        "batch_size": batch_size,
        "max_retry_attempts": 3,
        "sources": [
            {
                "source_name": "demo",
                "source_sf_database": DATABASE,
                "source_sf_schema": SCHEMA,
                "target_pg_database": "demo",
                "target_pg_schema": "sales",
                "tables": [
                    {"source": "ORDERS", "disable_index": True, "truncate_onstart": True},
                    {"source": "CUSTOMERS", "truncate_onstart": True},
                    {"source": "EVENTS", "truncate_onstart": True},
                ],
            }
        ],
    }


def ensure_database(dsn: str, name: str) -> None:
    """Create database ``name`` on the embedded server unless it exists."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def target_counts(dsn: str, targets: Sequence[str]) -> dict[str, int]:
    """Rows in each loaded ``schema.table``, to check the demo's result against the source."""
    counts: dict[str, int] = {}
    with psycopg.connect(dsn) as conn:
        for target in targets:
            schema, table = target.split(".", 1)
            query = sql.SQL("SELECT count(*) FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            row = conn.execute(query).fetchone()
            counts[target] = int(row[0]) if row else 0
    return counts

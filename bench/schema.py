"""The benchmark table: a realistic mixed schema generated inside the fakesnow server."""

from __future__ import annotations

from typing import Any

TABLE = "BENCH"

# Snowflake definition; every family of the type matrix that users move in bulk.
COLUMNS = (
    "ID NUMBER(38,0) PRIMARY KEY, CUSTOMER_ID NUMBER(18,0), AMOUNT NUMBER(12,2), "
    "PRICE NUMBER(18,6), RATIO FLOAT, CODE VARCHAR(16), DESCRIPTION VARCHAR, FLAG BOOLEAN, "
    "D DATE, TS TIMESTAMP_NTZ, TSZ TIMESTAMP_TZ, DOC VARIANT, BLOB BINARY"
)

SELECT = (
    "seq4(), mod(seq4() * 7919, 1000003), (mod(seq4() * 37, 10000000) / 100)::number(12,2), "
    "(mod(seq4() * 131, 100000000) / 1000000)::number(18,6), mod(seq4(), 9973) / 7.0, "
    "'C-' || lpad(to_varchar(mod(seq4(), 99991)), 6, '0'), "
    "'order ' || seq4() || ': ' || repeat('lorem ipsum dolor sit amet, ', 1 + mod(seq4(), 6)), "
    "mod(seq4(), 3) = 0, dateadd(day, mod(seq4(), 3650), '2015-01-01'::date), "
    "dateadd(second, seq4(), '2020-01-01 00:00:00'::timestamp_ntz), "
    "dateadd(second, seq4() * 3, '2021-06-01 12:00:00'::timestamp_tz), "
    "object_construct('k', seq4(), 'tags', array_construct(mod(seq4(), 4), mod(seq4(), 3))), "
    "to_binary(lpad(to_varchar(mod(seq4(), 65536), 'XXXX'), 4, '0'), 'HEX')"
)

# The PostgreSQL table snowpg creates for it (see snowpg.plan.typemap); the ceilings use it too.
PG_COLUMNS = (
    "id numeric(38,0) PRIMARY KEY, customer_id bigint, amount numeric(12,2), "
    "price numeric(18,6), ratio double precision, code varchar(16), description text, "
    "flag boolean, d date, ts timestamp, tsz timestamptz, doc jsonb, blob bytea"
)
PG_NAMES = "id, customer_id, amount, price, ratio, code, description, flag, d, ts, tsz, doc, blob"
SF_NAMES = "ID, CUSTOMER_ID, AMOUNT, PRICE, RATIO, CODE, DESCRIPTION, FLAG, D, TS, TSZ, DOC, BLOB"
JSON_COLUMNS = ("DOC",)


def create_table(sf_conn: Any, database: str, rows: int) -> None:
    cur = sf_conn.cursor()
    cur.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    cur.execute(f"USE DATABASE {database}")
    cur.execute("CREATE SCHEMA IF NOT EXISTS PUBLIC")
    cur.execute("USE SCHEMA PUBLIC")
    cur.execute(f"CREATE OR REPLACE TABLE {TABLE} ({COLUMNS})")
    cur.execute(f"INSERT INTO {TABLE} SELECT {SELECT} FROM TABLE(GENERATOR(ROWCOUNT => {rows}))")
    cur.close()


def key_ranges(rows: int, batch_size: int) -> list[tuple[int, int]]:
    """Half-open ID ranges of ``batch_size`` rows, like the chunks snowpg plans for this table."""
    return [(lo, min(lo + batch_size, rows)) for lo in range(0, rows, batch_size)]

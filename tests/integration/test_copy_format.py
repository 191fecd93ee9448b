"""Binary COPY and CSV COPY store the same values; a column binary cannot write falls back, loudly."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from snowpg.copy import binary_plan
from snowpg.copy.binary_plan import CopyEncoding
from snowpg.copy.writer import write_batches
from tests.fixtures.migration import make_config, run_cli, write_config

pytestmark = pytest.mark.integration

# (name, PostgreSQL type, Arrow type, value generator)
RANDOM_COLUMNS: list[tuple[str, str, pa.DataType, Any]] = [
    ("n0", "numeric", pa.decimal128(38, 0), lambda r: Decimal(r.randint(-(10**37), 10**37))),
    (
        "n2",
        "numeric(14,2)",
        pa.decimal128(14, 2),
        lambda r: Decimal(r.randint(-(10**12), 10**12)).scaleb(-2),
    ),
    (
        "n9",
        "numeric",
        pa.decimal128(30, 9),
        lambda r: Decimal(r.randint(-(10**20), 10**20)).scaleb(-9),
    ),
    (
        "n_round",
        "numeric(10,1)",
        pa.decimal128(12, 3),
        lambda r: Decimal(r.randint(-9999, 9999)).scaleb(-3),
    ),
    ("i8", "bigint", pa.int64(), lambda r: r.randint(-(2**63), 2**63 - 1)),
    ("i4", "integer", pa.int64(), lambda r: r.randint(-(2**31), 2**31 - 1)),
    (
        "f",
        "double precision",
        pa.float64(),
        lambda r: r.choice([r.uniform(-1e300, 1e300), r.random(), -0.0]),
    ),
    ("ts", "timestamp", pa.timestamp("ns"), lambda r: r.randint(-(2**62), 2**62)),
    ("ts3", "timestamp(3)", pa.timestamp("ns"), lambda r: r.randint(-(2**62), 2**62)),
    ("tz", "timestamptz", pa.timestamp("ns", tz="UTC"), lambda r: r.randint(-(2**62), 2**62)),
    ("t", "time", pa.time64("ns"), lambda r: r.randint(0, 86_400 * 10**9 - 1)),
    (
        "d",
        "date",
        pa.date32(),
        lambda r: dt.date(1, 1, 1) + dt.timedelta(days=r.randint(0, 3_000_000)),
    ),
    (
        "s",
        "varchar(40)",
        pa.string(),
        lambda r: "".join(r.choice('ab,"\\\n é🦆') for _ in range(r.randint(0, 30))),
    ),
    ("j", "jsonb", pa.string(), lambda r: f'{{"k": {r.randint(0, 9)}, "v": [{r.random()}]}}'),
    ("b", "bytea", pa.binary(), lambda r: r.randbytes(r.randint(0, 20))),
    ("flag", "boolean", pa.bool_(), lambda r: r.random() < 0.5),
]


def random_batch(rows: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    arrays = {}
    for name, _pg, type_, make in RANDOM_COLUMNS:
        values = [None if rng.random() < 0.1 else make(rng) for _ in range(rows)]
        arrays[name] = pa.array(values, type_)
    return pa.table(arrays)


def test_binary_and_csv_store_identical_values(pg_dsn: str) -> None:
    seed = random.randrange(2**32)
    batch = random_batch(3_000, seed)
    names = [c[0] for c in RANDOM_COLUMNS]
    defs = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t, *_ in RANDOM_COLUMNS
    )
    cols = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    kinds = [binary_plan.pg_kind(t) for _n, t, *_ in RANDOM_COLUMNS]
    assert None not in kinds
    with psycopg.connect(pg_dsn) as conn:
        for table, fmt in (("via_csv", "csv"), ("via_binary", "binary")):
            conn.execute(
                sql.SQL("CREATE TABLE {} (rid serial, {})").format(sql.Identifier(table), defs)
            )
            stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {})").format(
                sql.Identifier(table), cols, sql.SQL(fmt)
            )
            with conn.cursor() as cur:
                write_batches(
                    cur,
                    stmt,
                    [batch.slice(0, 1000), batch.slice(1000)],
                    json_columns=["j"],
                    encoding=CopyEncoding(fmt),
                    binary_kinds=kinds,  # type: ignore[arg-type]
                )
        # Text forms compare every column exactly, including numeric scale and float bits.
        as_text = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(n)) for n in names)
        query = sql.SQL("SELECT rid, {} FROM {} ORDER BY rid")
        got_csv = conn.execute(query.format(as_text, sql.Identifier("via_csv"))).fetchall()
        got_bin = conn.execute(query.format(as_text, sql.Identifier("via_binary"))).fetchall()
        conn.rollback()
    assert len(got_csv) == len(got_bin) == 3_000
    for a, b in zip(got_csv, got_bin, strict=True):
        assert a == b, f"seed {seed}: csv {a} != binary {b}"


def test_column_binary_cannot_write_falls_back_to_csv_and_says_so(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    ids = [str(uuid.UUID(int=i * 7919)) for i in range(1, 51)]
    cur = sf_conn.cursor()
    cur.execute("CREATE TABLE TOKENS (ID NUMBER(38,0) PRIMARY KEY, TOKEN VARCHAR, N NUMBER(10,2))")
    cur.executemany(
        "INSERT INTO TOKENS VALUES (%s, %s, %s)", [(i, u, i / 4) for i, u in enumerate(ids)]
    )
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE public.tokens (id bigint PRIMARY KEY, token uuid, n real)")
    cfg = write_config(
        tmp_path / "c.json", make_config(sf_database, pg_database, [{"source": "TOKENS"}])
    )
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert 'TOKENS is copied with CSV COPY instead of binary: column "token"' in out, out
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT id, token::text, n FROM public.tokens ORDER BY id").fetchall()
    assert rows == [(i, u, pytest.approx(i / 4)) for i, u in enumerate(ids)]


def test_copy_format_csv_forces_csv_for_one_table(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cur = sf_conn.cursor()
    for name in ("VIA_CSV", "VIA_BINARY"):
        cur.execute(f"CREATE TABLE {name} (ID NUMBER(38,0) PRIMARY KEY, AMOUNT NUMBER(12,2))")
        cur.execute(f"INSERT INTO {name} VALUES (1, 1.50), (2, -0.01), (3, NULL)")
    tables = [{"source": "VIA_CSV", "copy_format": "csv"}, {"source": "VIA_BINARY"}]
    cfg = write_config(tmp_path / "c.json", make_config(sf_database, pg_database, tables))
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert 'VIA_CSV is copied with CSV COPY (copy_format "csv")' in out
    assert "VIA_BINARY is copied with CSV" not in out
    with psycopg.connect(pg_dsn) as conn:
        for table in ("via_csv", "via_binary"):
            rows = conn.execute(f"SELECT id, amount::text FROM public.{table} ORDER BY id")
            assert rows.fetchall() == [(1, "1.50"), (2, "-0.01"), (3, None)], table

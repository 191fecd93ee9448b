"""Values the fakesnow emulator cannot hold, proved from Arrow through snowpg's encoder and COPY
into real PostgreSQL: NUMBER(38,0) at +/- 10^37 and beyond int64, nanosecond TIME/TIMESTAMP
(rounded to microseconds, docs/types.md), TIMESTAMP_TZ offsets (the instant is kept) and NULL
timestamps (an Arrow null stays NULL: snowpg never invents an epoch value).

The Arrow types are the ones the Snowflake connector produces for these Snowflake types.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from snowpg.copy.writer import write_batches
from snowpg.postgres.ddl import copy_from_stdin

pytestmark = pytest.mark.integration

BIG = [
    Decimal(10**37),
    Decimal(-(10**37)),
    Decimal(10**38 - 1),
    Decimal(-(10**38 - 1)),
    Decimal(2**63),
    Decimal(-(2**63) - 1),
    Decimal(0),
    None,
]
NS_PER_US = 1_000


def _round_us(ns: int) -> int:
    """Nanoseconds to the nearest microsecond (no test value sits on a half)."""
    return (ns + NS_PER_US // 2) // NS_PER_US


def _copy(
    dsn: str, table: str, ddl: str, batch: pa.RecordBatch, select: str = "*"
) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(sql.SQL(ddl).format(sql.Identifier(table)))
        with conn.cursor() as cur:
            result = write_batches(
                cur, copy_from_stdin("public", table, batch.schema.names, "csv"), [batch]
            )
        assert result.rows == batch.num_rows
        order = sql.Identifier(batch.schema.names[0])
        return conn.execute(
            sql.SQL("SELECT {} FROM public.{} ORDER BY {}").format(
                sql.SQL(select),
                sql.Identifier(table),
                order,
            )
        ).fetchall()


def test_number_38_0_beyond_int64_is_exact(pg_dsn: str) -> None:
    batch = pa.record_batch(
        {
            "id": pa.array(range(len(BIG)), pa.int64()),
            "n": pa.array(BIG, pa.decimal128(38, 0)),
        }
    )
    rows = _copy(pg_dsn, "big", "CREATE TABLE public.{} (id bigint, n numeric(38,0))", batch)
    assert [r[1] for r in rows] == BIG
    assert str(rows[0][1]) == "1" + "0" * 37 and str(rows[3][1]) == "-" + "9" * 38


def test_nanoseconds_round_to_microseconds(pg_dsn: str) -> None:
    day = 86_400 * 10**9
    times_ns = [
        0,
        12 * 3600 * 10**9 + 123_456_789,  # .123456789 -> .123457
        12 * 3600 * 10**9 + 123_456_100,  # .1234561 -> .123456
        day - 100,  # 23:59:59.9999999 -> 24:00:00, as docs/types.md says
        day - 1_000,  # 23:59:59.999999 exact
    ]
    base = int(dt.datetime(2024, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp()) * 10**9
    stamps_ns = [base, base + 123_456_789, base + 999_999_600, base + 1, base + 499]
    batch = pa.record_batch(
        {
            "id": pa.array(range(5), pa.int64()),
            "tm": pa.array(times_ns, pa.time64("ns")),
            "ntz": pa.array(stamps_ns, pa.timestamp("ns")),
            "tz": pa.array(stamps_ns, pa.timestamp("ns", tz="UTC")),
        }
    )
    rows = _copy(
        pg_dsn,
        "ns",
        "CREATE TABLE public.{} (id bigint, tm time, ntz timestamp, tz timestamptz)",
        batch,
        select="id, tm::text, ntz, tz",  # psycopg cannot read PostgreSQL's 24:00:00 as a time
    )
    epoch = dt.datetime(1970, 1, 1)
    for (_, tm, ntz, tz), t_ns, s_ns in zip(rows, times_ns, stamps_ns, strict=True):
        us = _round_us(t_ns)
        if us == 86_400 * 10**6:
            assert tm == "24:00:00"
        else:
            assert dt.time.fromisoformat(tm) == (epoch + dt.timedelta(microseconds=us)).time()
        want = epoch + dt.timedelta(microseconds=_round_us(s_ns))
        assert ntz == want
        assert tz == want.replace(tzinfo=dt.UTC)
    assert rows[3][1] == "24:00:00" and rows[1][1] == "12:00:00.123457"
    assert rows[2][2] == dt.datetime(2025, 1, 1)  # 23:59:59.9999996 rounds into the next year


def test_timestamp_tz_keeps_the_instant_of_any_offset(pg_dsn: str) -> None:
    # The connector gives TIMESTAMP_TZ as instants with the row's offset as the zone.
    instants = [
        dt.datetime(2024, 1, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.datetime(2024, 1, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=-8, minutes=-30))),
        dt.datetime(2024, 1, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=14))),
    ]
    batch = pa.record_batch(
        {
            "id": pa.array([0, 1, 2], pa.int64()),
            "tz": pa.array(instants, pa.timestamp("ns", tz="+02:00")),
        }
    )
    rows = _copy(pg_dsn, "tzs", "CREATE TABLE public.{} (id bigint, tz timestamptz)", batch)
    assert [r[1] for r in rows] == instants  # equal as instants; the offset itself is not kept


def test_null_timestamps_stay_null(pg_dsn: str) -> None:
    batch = pa.record_batch(
        {
            "id": pa.array([0, 1], pa.int64()),
            "ntz": pa.array([None, 0], pa.timestamp("us")),
            "tz": pa.array([None, 0], pa.timestamp("ns", tz="UTC")),
            "tm": pa.array([None, 0], pa.time64("ns")),
        }
    )
    rows = _copy(
        pg_dsn,
        "nulls",
        "CREATE TABLE public.{} (id bigint, ntz timestamp, tz timestamptz, tm time)",
        batch,
    )
    assert rows[0][1:] == (None, None, None)
    assert rows[1][1] == dt.datetime(1970, 1, 1)  # a real epoch value is kept as a value

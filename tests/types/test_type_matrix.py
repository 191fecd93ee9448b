"""The type matrix, end to end: one column per Snowflake type, edge values in rows, copied by the
real ``snowpg migrate`` from the Snowflake stand-in (the service's wire format in front of fakesnow)
into PostgreSQL, then compared value by value.

Every value must arrive exactly, or changed by a rule docs/types.md states (the rule is coded in
``expected_target`` below, next to the doc line it proves). What the emulator itself cannot hold
is listed in EMULATOR_LIMITS and proved elsewhere (tests/types/test_precision_rules.py), and the
one place where bare fakesnow *changes* a value on the wire (NULL timestamps) is asserted as such
against the plain fakesnow server, while the stand-in sends a real NULL like the service.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.fixtures.migration import make_config, run_cli, write_config
from tests.types.matrix_data import (
    COLUMNS,
    DECLARED,
    JSON_COLUMNS,
    MB_TEXT,
    NAMES,
    NBIG_VALUES,
    NINES_37,
    NTZ9_NANOS,
    ROWS,
    TIMESTAMP_COLUMNS,
    TM_NANOS,
    TZ_OFFSETS,
    create_matrix,
    epoch_us,
)

pytestmark = pytest.mark.integration


# What the fakesnow emulator cannot hold, so the matrix cannot carry it (each is proved instead by
# tests/types/test_precision_rules.py through Arrow -> snowpg encode -> PostgreSQL):
# (NUMBER(38,0) past int64, TIME nanoseconds, TIMESTAMP_TZ offsets, VECTOR and GEOGRAPHY, which
# fakesnow cannot hold either, come through the stand-in's side channels (matrix_data: NBIG_VALUES,
# TM_NANOS, TZ_OFFSETS, DECLARED).
EMULATOR_LIMITS = {
    "CHAR(n) length": "fakesnow's information_schema gives CHAR(5) no length (so text, not "
    "varchar(5)); tests/unit/test_typemap.py covers CHAR(n) -> varchar(n)",
}
# Where bare fakesnow changes a value on the wire: its arrow.timestamp_to_sf_struct builds the
# timestamp struct without its null bitmap, so a NULL TIMESTAMP_* arrives as 1970-01-01 (real
# Snowflake and the stand-in send NULL). Asserted against bare fakesnow in test_emulator_nulls.py.


def _source(sf_conn: Any) -> tuple[dict[int, dict[str, Any]], dict[int, set[str]]]:
    cur = sf_conn.cursor()
    cur.execute(f"SELECT {', '.join(NAMES)} FROM MATRIX ORDER BY ID")
    values = {int(r[0]): dict(zip(NAMES, r, strict=True)) for r in cur.fetchall()}
    # SQL sees the true NULLs even where the wire format loses them.
    cur.execute(f"SELECT ID, {', '.join(f'{n} IS NULL' for n in NAMES)} FROM MATRIX")
    nulls = {int(r[0]): {n for n, isnull in zip(NAMES, r[1:], strict=True) if isnull} for r in cur}
    cur.close()
    return values, nulls


def _target(dsn: str) -> tuple[dict[int, dict[str, Any]], dict[str, str]]:
    targets = [n.lower() for n in NAMES]
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        # jsonb as text, so numbers are parsed below exactly (Decimal), not as Python floats.
        cols = [
            sql.SQL("{}::text").format(sql.Identifier(t))
            if t.upper() in JSON_COLUMNS
            else sql.Identifier(t)
            for t in targets
        ]
        rows = conn.execute(
            sql.SQL("SELECT {} FROM public.matrix ORDER BY id").format(sql.SQL(", ").join(cols))
        ).fetchall()
        types: dict[str, str] = dict(
            conn.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 'public.matrix'::regclass AND attnum > 0 AND NOT attisdropped"
            ).fetchall()
        )
    out = {int(r[0]): dict(zip(NAMES, r, strict=True)) for r in rows}
    return out, {k.upper(): v for k, v in types.items()}


def _round_us(value: Any) -> Any:
    """docs/types.md: TIME and TIMESTAMP_* are rounded to microseconds. Python datetimes already
    hold microseconds, so a source value read through the connector is its own rounding."""
    return value


def expected_target(column: str, value: Any) -> Any:
    """The value docs/types.md says PostgreSQL holds for Snowflake ``value`` in ``column``."""
    if value is None:
        return None
    kind = dict((n, t) for n, t, _ in COLUMNS)[column].split("(")[0].split()[0]
    if kind in ("NUMBER", "INT", "BIGINT"):
        return Decimal(str(value))  # exact digits and scale
    if kind in ("VARIANT", "OBJECT", "ARRAY", "GEOGRAPHY"):
        return json.loads(value, parse_float=Decimal)  # jsonb normalises layout, keeps numbers
    if kind == "VECTOR":
        # docs/types.md: a JSON array of the numbers; float32 elements in their shortest text.
        return [Decimal(str(np.float32(v))) if isinstance(v, float) else v for v in value]
    if kind == "BINARY":
        return bytes(value)
    if kind in ("TIME", "TIMESTAMP_NTZ"):
        return _round_us(value)
    if kind in ("TIMESTAMP_LTZ", "TIMESTAMP_TZ"):
        return _round_us(value).astimezone(dt.UTC)  # the instant; the offset is not kept
    return value  # floats (bit for bit, below), text, CHAR (not padded), booleans, dates


def _same(column: str, want: Any, got: Any) -> bool:
    if isinstance(want, float) and isinstance(got, float):
        if math.isnan(want):
            return math.isnan(got)
        return struct.pack("<d", want) == struct.pack("<d", got)  # keeps -0.0 apart from 0.0
    if column in JSON_COLUMNS and got is not None:
        got = json.loads(got, parse_float=Decimal)
    if isinstance(want, Decimal) and isinstance(got, int):
        got = Decimal(got)
    if isinstance(want, Decimal) and isinstance(got, Decimal) and column not in JSON_COLUMNS:
        return want.as_tuple() == got.as_tuple()  # same digits and the same scale
    return bool(want == got and (want is None or type(want) is type(got)))


@pytest.mark.parametrize("copy_format", ["auto", "csv"])
def test_every_type_round_trips_value_by_value(
    copy_format: str,
    fakesnow_server: Any,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_matrix(sf_conn)
    fakesnow_server.control(
        nanos={
            "NTZ9": {str(k): v for k, v in NTZ9_NANOS.items()},
            "TM": {str(k): v for k, v in TM_NANOS.items()},
        },
        offsets={
            col: {str(epoch_us(t)): m for t, m in table.items()}
            for col, table in TZ_OFFSETS.items()
        },
        numbers={"NBIG": {str(k): v for k, v in NBIG_VALUES.items()}},
        types=DECLARED,
    )
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [{"source": "MATRIX", "copy_format": copy_format}]),
    )
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    # With "auto" every type of the matrix takes the binary COPY path; none falls back to CSV.
    assert "instead of binary" not in out
    assert ("copied with CSV COPY" in out) == (copy_format == "csv")

    # The reference read in one chunk: connector 5.2's fetchall misreads narrowed integer chunks
    # (tests/integration/test_standin.py::test_negative_small_ints_in_a_later_chunk).
    fakesnow_server.control(chunk_bytes=1 << 30)
    wire, nulls = _source(sf_conn)
    fakesnow_server.control(reset=True)
    target, pg_types = _target(pg_dsn)
    assert {n: pg_types[n] for n in NAMES} == {n: t for n, _, t in COLUMNS}
    assert sorted(target) == sorted(wire) == [1, 2, 3, 4, 5]

    # The stand-in, like the service, sends NULL timestamps as NULL (bare fakesnow does not).
    assert all(wire[4][n] is None for n in TIMESTAMP_COLUMNS)
    mismatches = []
    compared = 0
    for row_id, row in wire.items():
        for name in NAMES:
            source_value = None if name in nulls[row_id] else row[name]
            want = expected_target(name, source_value)
            got = target[row_id][name]
            compared += 1
            if not _same(name, want, got):
                mismatches.append(f"row {row_id} {name}: want {want!r:.120} got {got!r:.120}")
    assert not mismatches, "\n".join(mismatches)
    assert compared == len(ROWS) * len(COLUMNS)

    # The big payloads really made the trip (a truncation would still be "equal" to nothing).
    assert len(target[3]["S"]) == len(MB_TEXT) and target[3]["S"] == MB_TEXT
    assert len(target[3]["B"]) == 8 * 1024 * 1024 and set(target[3]["B"]) == {0xA5}
    assert target[5]["S"] == "" and target[4]["S"] is None and target[5]["VS"] is None
    assert target[2]["VS"] == "" and target[2]["C"] == "ab  "  # CHAR is not padded or trimmed
    assert str(target[3]["N20"]) == "9223372036854775808"  # beyond int64
    assert str(target[2]["N37"]) == "-" + NINES_37
    assert str(target[3]["NS"]) == "1E-37" or target[3]["NS"] == Decimal("1e-37")
    assert str(target[1]["N3810"]) == "1234567890123456789.0123456789"  # 29 significant digits
    assert str(target[2]["N3810"]) == "-9876543210987654321.9876543210"
    # TIMESTAMP_NTZ(9) with nanoseconds: floored to the microsecond, at any date.
    assert target[1]["NTZ9"] == dt.datetime(2024, 1, 1, 0, 0, 0, 123456)
    assert target[2]["NTZ9"] == dt.datetime(1969, 12, 31, 23, 59, 59, 999999)
    assert target[3]["NTZ9"] == dt.datetime(9999, 12, 31, 23, 59, 59, 999999)
    # What the stand-in carries past fakesnow arrived: offsets on the wire, exact big integers.
    assert wire[1]["TZ"].utcoffset() == dt.timedelta(hours=2)
    assert wire[3]["TZ"].utcoffset() == dt.timedelta(hours=5, minutes=30)
    assert wire[1]["TZ3"].utcoffset() == dt.timedelta(hours=14)
    assert wire[2]["TZ3"].utcoffset() == dt.timedelta(hours=5, minutes=30)
    assert target[2]["TZ3"] == dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    assert target[3]["TZ3"] == dt.datetime(9999, 12, 31, 9, 59, 59, 999000, tzinfo=dt.UTC)
    assert target[1]["TZ3"] == dt.datetime(2024, 6, 30, 9, 59, 59, 999000, tzinfo=dt.UTC)
    assert [str(target[i]["NBIG"]) for i in (1, 2, 3, 5)] == [
        "9" * 38,
        "-" + "9" * 38,
        "9223372036854775808",
        "-9223372036854775809",
    ]
    # VECTOR and GEOGRAPHY arrived in the service's types and as JSON in jsonb.
    assert wire[1]["VF"] == [1.5, -2.0, float(np.float32(0.1))] and wire[1]["VI"][1] == -(2**31)
    assert json.loads(target[1]["VF"]) == [1.5, -2.0, 0.1]
    assert json.loads(target[2]["VF"])[0] == Decimal("3.4028235e38")  # jsonb writes all digits
    assert json.loads(target[3]["GEO"])["type"] == "Polygon"
    # TIME(9) with nanoseconds: floored to the microsecond.
    assert target[1]["TM"] == dt.time(23, 59, 59, 999999)
    assert target[3]["TM"] == dt.time(12, 34, 56, 123456)
    assert fakesnow_server.stats()["queries"] > 0  # the run went through the stand-in


def test_standin_sends_null_timestamps_as_null(sf_conn: Any) -> None:
    cur = sf_conn.cursor()
    cur.execute("CREATE OR REPLACE TABLE TSNULL (ID INT, TS TIMESTAMP_NTZ, TZ TIMESTAMP_TZ)")
    cur.execute("INSERT INTO TSNULL (ID) VALUES (1)")
    cur.execute("SELECT TS, TZ FROM TSNULL")
    batch = next(cur.fetch_arrow_batches())
    assert batch.column(0).null_count == 1 and batch.column(1).null_count == 1

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

import psycopg
import pytest
from psycopg import sql

from tests.fixtures.migration import make_config, run_cli, write_config

pytestmark = pytest.mark.integration

# (Snowflake column, Snowflake type, PostgreSQL type docs/types.md promises)
COLUMNS: list[tuple[str, str, str]] = [
    ("ID", "NUMBER(38,0) PRIMARY KEY", "numeric(38,0)"),
    ("N38", "NUMBER(38,0)", "numeric(38,0)"),
    ("NBIG", "NUMBER(38,0)", "numeric(38,0)"),  # past int64, through the stand-in (NBIG_VALUES)
    ("N37", "NUMBER(37,0)", "numeric(37,0)"),
    ("N20", "NUMBER(20,0)", "numeric(20,0)"),
    ("N18", "NUMBER(18,0)", "bigint"),
    ("N9", "NUMBER(9,0)", "integer"),
    ("N4", "NUMBER(4,0)", "smallint"),
    ("NS", "NUMBER(38,37)", "numeric(38,37)"),
    ("N122", "NUMBER(12,2)", "numeric(12,2)"),
    ("N3810", "NUMBER(38,10)", "numeric(38,10)"),
    ("NNOP", "NUMBER", "numeric(38,0)"),  # Snowflake's NUMBER is NUMBER(38,0)
    ("I", "INT", "numeric(38,0)"),
    ("BI", "BIGINT", "numeric(38,0)"),
    ("F", "FLOAT", "double precision"),
    ("DBL", "DOUBLE", "double precision"),
    ("S", "VARCHAR", "text"),
    ("VS", "VARCHAR(10)", "character varying(10)"),
    # varchar(5) on Snowflake; fakesnow reports CHAR(5) without its length, so text here.
    ("C", "CHAR(5)", "text"),
    ("B", "BINARY", "bytea"),
    ("BO", "BOOLEAN", "boolean"),
    ("D", "DATE", "date"),
    ("TM", "TIME", "time without time zone"),
    ("NTZ", "TIMESTAMP_NTZ", "timestamp without time zone"),
    ("NTZ9", "TIMESTAMP_NTZ(9)", "timestamp without time zone"),
    ("LTZ", "TIMESTAMP_LTZ", "timestamp with time zone"),
    ("TZ", "TIMESTAMP_TZ", "timestamp with time zone"),
    ("TZ3", "TIMESTAMP_TZ(3)", "timestamp with time zone"),
    ("V", "VARIANT", "jsonb"),
    ("O", "OBJECT", "jsonb"),
    ("A", "ARRAY", "jsonb"),
]
NAMES = [c[0] for c in COLUMNS]

NINES_37 = "9" * 37
MB_TEXT = "é😀a" * 349_526  # 1,048,578 characters, 2.4 MB of UTF-8
JSON_DOC = (
    '{"big": 123456789012345678901234567890, "neg": -0.000000000000000000001, '
    '"f": 1.5e300, "uni": "é😀 שלום \\u00e9\\ud83d\\ude00", "nested": {"a": [1, [2, [3, {"b": null}]]],'
    ' "t": true}, "empty": {}, "arr": []}'
)
# One dict per row: column -> Snowflake SQL expression (absent = NULL).
ROWS: list[dict[str, str]] = [
    {  # maxima
        "ID": "1",
        "N38": "9223372036854775807",
        "N37": NINES_37,
        "N20": "99999999999999999999",
        "N18": "999999999999999999",
        "N9": "999999999",
        "N4": "9999",
        "NS": "9.9999999999999999999999999999999999999",
        "N122": "9999999999.99",
        "N3810": "1234567890123456789.0123456789",
        "NTZ9": "'2024-01-01 00:00:00.123456'::timestamp_ntz(9)",
        "NNOP": "9223372036854775807",
        "I": "9223372036854775807",
        "BI": "9223372036854775807",
        "F": "'NaN'::float",
        "DBL": "1.7976931348623157e308",
        "S": "'emoji 😀👍🏽🇩🇪 family 👨‍👩‍👧'",
        "VS": "'ab'",
        "C": "'abcde'",
        "B": "to_binary('00010203FEFF7F80', 'HEX')",
        "BO": "true",
        "D": "'9999-12-31'::date",
        "TM": "'23:59:59.999999999'::time",
        "NTZ": "'9999-12-31 23:59:59.999999'::timestamp_ntz",
        "LTZ": "'2024-03-10 02:30:00.123456789'::timestamp_ltz",
        "TZ": "'2024-01-01 10:00:00.123456 +0200'::timestamp_tz",
        "TZ3": "'2024-06-30 23:59:59.999 +1400'::timestamp_tz(3)",
        "NBIG": "1",
        "V": f"parse_json('{JSON_DOC}')",
        "O": """parse_json('{"k": 1, "é": ["😀", 2.5]}')""",
        "A": """parse_json('[1, "x", null, [true]]')""",
    },
    {  # minima
        "ID": "2",
        "N38": "-9223372036854775808",
        "N37": "-" + NINES_37,
        "N20": "-99999999999999999999",
        "N18": "-999999999999999999",
        "N9": "-999999999",
        "N4": "-9999",
        "NS": "-9.9999999999999999999999999999999999999",
        "N122": "-9999999999.99",
        "N3810": "-9876543210987654321.9876543210",
        "NTZ9": "'1969-12-31 23:59:59.999999'::timestamp_ntz(9)",
        "NNOP": "-9223372036854775808",
        "I": "-9223372036854775808",
        "BI": "-9223372036854775808",
        "F": "'inf'::float",
        "DBL": "'-inf'::float",
        "S": "'combining e\u0301 a\u0308\u0323, RTL שלום עולם مرحبا, zero-width \u200b\u200d'",
        "VS": "''",
        "C": "'ab  '",
        "B": "to_binary('', 'HEX')",
        "BO": "false",
        "D": "'0001-01-01'::date",
        "TM": "'00:00:00'::time",
        "NTZ": "'0001-01-01 00:00:00'::timestamp_ntz",
        "LTZ": "'1900-01-01 00:00:00.000001'::timestamp_ltz",
        "TZ": "'1969-12-31 23:59:59.5 -0800'::timestamp_tz",
        "TZ3": "'0001-01-01 05:30:00 +0530'::timestamp_tz(3)",
        "NBIG": "-1",
        "V": "parse_json('[]')",
        "O": "object_construct()",
        "A": "array_construct()",
    },
    {  # smallest magnitudes, beyond int64, big payloads
        "ID": "3",
        "N38": "0",
        "N37": "1" + "0" * 36,
        "N20": "9223372036854775808",
        "N18": "0",
        "N9": "0",
        "N4": "0",
        "NS": "0.0000000000000000000000000000000000001",
        "N122": "-0.01",
        "N3810": "0.0000000001",
        "NTZ9": "'9999-12-31 23:59:59.999999'::timestamp_ntz(9)",
        "NNOP": "0",
        "I": "0",
        "BI": "-1",
        "F": "-0.0::float",
        "DBL": "5e-324",
        "S": f"repeat('é😀a', {MB_TEXT.count('a')})",
        "VS": "'0123456789'",
        "C": "' '",
        "B": "to_binary(repeat('A5', 8388608), 'HEX')",
        "D": "'1970-01-01'::date",
        "TM": "'12:34:56.123456789'::time",
        "NTZ": "'1970-01-01 00:00:00.000001'::timestamp_ntz",
        "LTZ": "'2038-01-19 03:14:08'::timestamp_ltz",
        "TZ": "'2000-02-29 23:30:00 +0530'::timestamp_tz",
        "TZ3": "'9999-12-31 23:59:59.999 +1400'::timestamp_tz(3)",
        "NBIG": "2",
        "V": "parse_json('\"just a string é\"')",
        "O": """parse_json('{"n": 12345678901234567890123456789012345678}')""",
        "A": "parse_json('[-0.0, 1e-300, 123456789.123456789]')",
    },
    {"ID": "4"},  # NULL everywhere
    {  # ordinary values, empty string vs NULL
        "ID": "5",
        "N122": "0.01",
        "F": "2.2250738585072014e-308",
        "DBL": "0.1",
        "S": "''",
        "VS": "NULL",
        "C": "'x'",
        "B": "to_binary('00', 'HEX')",
        "BO": "true",
        "D": "'2000-02-29'::date",
        "TM": "'00:00:00.000001'::time",
        "NTZ": "'2024-02-29 12:00:00'::timestamp_ntz",
        "LTZ": "'2024-02-29 12:00:00'::timestamp_ltz",
        "TZ": "'2024-02-29 12:00:00 -1200'::timestamp_tz",
        "TZ3": "'2024-02-29 12:00:00 -0800'::timestamp_tz(3)",
        "NBIG": "3",
        "V": "parse_json('0')",
        "O": 'parse_json(\'{"a": {"a": {"a": "deep"}}}\')',
        # Snowflake string literals take backslash escapes: \\ reaches JSON as one backslash.
        "A": r"""parse_json('["\\"quoted\\", comma", "line\\nbreak"]')""",
    },
]

TIMESTAMP_COLUMNS = ("NTZ", "NTZ9", "LTZ", "TZ", "TZ3")
# Nanoseconds fakesnow cannot store, carried by the stand-in's side channel (docs/testing.md):
# {epoch microseconds of the stored value: nanoseconds}. The rule snowpg applies (docs/types.md,
# snowpg.source.timestamps.floor_to_microsecond) floors them: .123456999 -> .123456, and before
# 1970 too: 23:59:59.999999500 -> .999999.
NTZ9_NANOS = {
    int(dt.datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=dt.UTC).timestamp() * 1_000_000): 999,
    -1: 500,
    253402300799999999: 999,
}
# TIME(9) nanoseconds, keyed by the microseconds since midnight fakesnow stored.
TM_NANOS = {
    (23 * 3600 + 59 * 60 + 59) * 10**6 + 999999: 999,
    (12 * 3600 + 34 * 60 + 56) * 10**6 + 123456: 789,
}


def _epoch_us(text: str) -> int:
    instant = dt.datetime.fromisoformat(text)
    return (instant - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


# TIMESTAMP_TZ offsets fakesnow drops (it stores the UTC instant), keyed by that instant: the
# stand-in sends them in the timezone child as the service does.
TZ_OFFSETS = {
    "TZ": {
        "2024-01-01 10:00:00.123456+02:00": 120,
        "1969-12-31 23:59:59.5-08:00": -480,
        "2000-02-29 23:30:00+05:30": 330,
        "2024-02-29 12:00:00-12:00": -720,
    },
    "TZ3": {
        "2024-06-30 23:59:59.999+14:00": 840,
        "0001-01-01 05:30:00+05:30": 330,
        "9999-12-31 23:59:59.999+14:00": 840,
        "2024-02-29 12:00:00-08:00": -480,
    },
}
# NUMBER(38,0) past int64: fakesnow holds the placeholder, the stand-in sends the value.
NBIG_VALUES = {
    1: "9" * 38,
    -1: "-" + "9" * 38,
    2: "9223372036854775808",
    3: "-9223372036854775809",
}
JSON_COLUMNS = ("V", "O", "A")

# What the fakesnow emulator cannot hold, so the matrix cannot carry it (each is proved instead by
# tests/types/test_precision_rules.py through Arrow -> snowpg encode -> PostgreSQL):
# (NUMBER(38,0) past int64, TIME nanoseconds and TIMESTAMP_TZ offsets, which fakesnow cannot hold
# either, come through the stand-in's side channels above: NBIG_VALUES, TM_NANOS, TZ_OFFSETS.)
EMULATOR_LIMITS = {
    "GEOGRAPHY": "fakesnow has no GEOGRAPHY type",
    "VECTOR": "fakesnow has no VECTOR type; tests/unit covers the fixed-size list -> JSON text",
    "CHAR(n) length": "fakesnow's information_schema gives CHAR(5) no length (so text, not "
    "varchar(5)); tests/unit/test_typemap.py covers CHAR(n) -> varchar(n)",
}
# Where bare fakesnow changes a value on the wire: its arrow.timestamp_to_sf_struct builds the
# timestamp struct without its null bitmap, so a NULL TIMESTAMP_* arrives as 1970-01-01 (real
# Snowflake and the stand-in send NULL). Asserted against bare fakesnow in test_emulator_nulls.py.


def _create_matrix(sf_conn: Any) -> None:
    cur = sf_conn.cursor()
    cur.execute(f"CREATE OR REPLACE TABLE MATRIX ({', '.join(f'{n} {t}' for n, t, _ in COLUMNS)})")
    for row in ROWS:
        values = ", ".join(row.get(n, "NULL") for n in NAMES)
        cur.execute(f"INSERT INTO MATRIX ({', '.join(NAMES)}) SELECT {values}")
    cur.close()


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
    if kind in ("VARIANT", "OBJECT", "ARRAY"):
        return json.loads(value, parse_float=Decimal)  # jsonb normalises layout, keeps numbers
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
    _create_matrix(sf_conn)
    fakesnow_server.control(
        nanos={
            "NTZ9": {str(k): v for k, v in NTZ9_NANOS.items()},
            "TM": {str(k): v for k, v in TM_NANOS.items()},
        },
        offsets={
            col: {str(_epoch_us(t)): m for t, m in table.items()}
            for col, table in TZ_OFFSETS.items()
        },
        numbers={"NBIG": {str(k): v for k, v in NBIG_VALUES.items()}},
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

"""The type matrix's data: one column per Snowflake type, edge values in rows, and what the
Snowflake stand-in carries past fakesnow (docs/testing.md, side channels). Used by
test_type_matrix.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

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
    # Types fakesnow lacks: created as VARCHAR holding the wire text, declared to the stand-in,
    # which answers with the service's types (DECLARED below).
    ("VF", "VECTOR(FLOAT, 3)", "jsonb"),
    ("VI", "VECTOR(INT, 3)", "jsonb"),
    ("GEO", "GEOGRAPHY", "jsonb"),
]
DECLARED = {"VF": "VECTOR(FLOAT, 3)", "VI": "VECTOR(INT, 3)", "GEO": "GEOGRAPHY"}
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
        "VF": "'[1.5, -2, 0.1]'",
        "VI": "'[1, -2147483648, 2147483647]'",
        "GEO": """'{"coordinates": [-122.35, 37.55], "type": "Point"}'""",
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
        "VF": "'[3.4028235e38, -1.1754944e-38, 1e-45]'",
        "VI": "'[0, 0, -1]'",
        "GEO": """'{"coordinates": [[0, 0], [179.999999, -89.9999999]], "type": "LineString"}'""",
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
        "VF": "'[0, -0.0, 123456.79]'",
        "GEO": """'{"coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]], "type": "Polygon"}'""",
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
# snowpg.snowflake.timestamps.floor_to_microsecond) floors them: .123456999 -> .123456, and before
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


def epoch_us(text: str) -> int:
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
JSON_COLUMNS = ("V", "O", "A", "VF", "VI", "GEO")


def create_matrix(sf_conn: Any) -> None:
    cur = sf_conn.cursor()
    defs = ", ".join(f"{n} {'VARCHAR' if n in DECLARED else t}" for n, t, _ in COLUMNS)
    cur.execute(f"CREATE OR REPLACE TABLE MATRIX ({defs})")
    for row in ROWS:
        values = ", ".join(row.get(n, "NULL") for n in NAMES)
        cur.execute(f"INSERT INTO MATRIX ({', '.join(NAMES)}) SELECT {values}")
    cur.close()

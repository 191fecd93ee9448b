"""The binary COPY encoder, decoded by psycopg's own binary loaders (no server).

The same encoder against a real PostgreSQL, and against the CSV path value for value, is in
tests/integration/test_copy_roundtrip.py.
"""

from __future__ import annotations

import datetime as dt
import struct
from decimal import Context, Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import postgres
from psycopg.adapt import Transformer
from psycopg.pq import Format

from snowpg.copy.binary import encode_binary_batch
from snowpg.copy.binary_plan import ColumnPair, Kind, pg_kind, plan_kinds
from snowpg.errors import DataError

# The PostgreSQL type each encoder writes, for psycopg's loaders.
DECODE_AS = {
    "bool": "bool",
    "int2": "int2",
    "int4": "int4",
    "int8": "int8",
    "float8": "float8",
    "numeric": "numeric",
    "text": "text",
    "json": "json",
    "jsonb": "jsonb",
    "date": "date",
    "timestamp": "timestamp",
    "time": "time",
    "bytea": "bytea",
}


def split_rows(data: bytes | memoryview, columns: int) -> list[list[bytes | None]]:
    """Fields of each binary COPY tuple (no signature, no trailer)."""
    raw = bytes(data)
    rows, pos = [], 0
    while pos < len(raw):
        (count,) = struct.unpack_from(">h", raw, pos)
        pos += 2
        assert count == columns
        row: list[bytes | None] = []
        for _ in range(count):
            (length,) = struct.unpack_from(">i", raw, pos)
            pos += 4
            if length == -1:
                row.append(None)
            else:
                row.append(raw[pos : pos + length])
                pos += length
        rows.append(row)
    return rows


def decode(kinds: list[Kind], batch: pa.Table, **kwargs: Any) -> list[list[Any]]:
    encoded = encode_binary_batch(batch, kinds, **kwargs)
    tx = Transformer()
    loaders = [
        tx.get_loader(postgres.types[DECODE_AS[k]].oid, Format.BINARY)  # type: ignore[index]
        for k in kinds
    ]
    rows = split_rows(encoded.data, len(kinds))
    assert len(rows) == encoded.rows == batch.num_rows
    return [
        [None if f is None else loader.load(f) for f, loader in zip(row, loaders, strict=True)]
        for row in rows
    ]


def column(kind: Kind, arr: pa.Array, **kwargs: Any) -> list[Any]:
    return [row[0] for row in decode([kind], pa.table({"c": arr}), **kwargs)]


def test_pg_kind_reads_format_type_spellings() -> None:
    assert pg_kind("numeric(12,2)") == "numeric"
    assert pg_kind("character varying(16)") == "text"
    assert pg_kind("timestamp(3) without time zone") == "timestamp"
    assert pg_kind("timestamp with time zone") == "timestamp"
    assert pg_kind("time without time zone") == "time"
    assert pg_kind("double precision") == "float8"
    for other in ("uuid", "real", "integer[]", "time with time zone", "interval", "my_domain"):
        assert pg_kind(other) is None, other


def test_plan_names_the_column_that_keeps_a_table_on_csv() -> None:
    ok = plan_kinds(
        [
            ColumnPair("id", "NUMBER", 0, "bigint"),
            ColumnPair("amount", "NUMBER", 2, "numeric(12,2)"),
            ColumnPair("doc", "VARIANT", None, "jsonb"),
            ColumnPair("n_as_text", "NUMBER", 2, "text"),
            ColumnPair("ts", "TIMESTAMP_TZ", None, "timestamp with time zone"),
        ]
    )
    assert ok.kinds == ("int8", "numeric", "jsonb", "text", "timestamp") and ok.reason is None
    no_type = plan_kinds(
        [ColumnPair("id", "NUMBER", 0, "bigint"), ColumnPair("u", "TEXT", 0, "uuid")]
    )
    assert no_type.kinds is None and '"u"' in str(no_type.reason) and "uuid" in str(no_type.reason)
    # A scaled NUMBER into an integer column is rounded by PostgreSQL's text input: keep CSV.
    scaled = plan_kinds([ColumnPair("q", "NUMBER", 2, "integer")])
    assert scaled.kinds is None and '"q"' in str(scaled.reason)
    assert plan_kinds([ColumnPair("f", "FLOAT", None, "numeric")]).kinds is None
    # Families come from the type map: aliases, spatial types and VECTOR (JSON text by then).
    aliases = plan_kinds(
        [
            ColumnPair("a", "CHARACTER VARYING", None, "text"),
            ColumnPair("g", "GEOGRAPHY", None, "jsonb"),
            ColumnPair("t", "TIMESTAMP WITH LOCAL TIME ZONE", None, "timestamptz"),
            ColumnPair("d", "DEC", 0, "bigint"),
        ]
    )
    assert aliases.kinds == ("text", "jsonb", "timestamp", "int8")
    assert plan_kinds([ColumnPair("v", "VECTOR", None, "jsonb")]).kinds == ("jsonb",)
    assert plan_kinds([ColumnPair("x", "DECFLOAT", None, "jsonb")]).kinds is None


def test_fixed_width_types_and_nulls() -> None:
    assert column("bool", pa.array([True, False, None])) == [True, False, None]
    assert column("int2", pa.array([-32768, 32767, None], pa.int64())) == [-32768, 32767, None]
    assert column("int4", pa.array([-(2**31), None], pa.int32())) == [-(2**31), None]
    big = [-(2**63), 2**63 - 1, None]
    assert column("int8", pa.array(big, pa.int64())) == big
    assert column("int8", pa.array([Decimal(7), None], pa.decimal128(10, 0))) == [7, None]
    floats = column("float8", pa.array([0.1, -0.0, float("inf"), None], pa.float64()))
    assert floats[0] == 0.1 and str(floats[1]) == "-0.0" and floats[2] == float("inf")
    assert floats[3] is None


def test_integer_out_of_range_names_the_column() -> None:
    with pytest.raises(DataError, match=r'column "c".*int2'):
        column("int2", pa.array([40000], pa.int64()))


def test_dates_times_and_timestamps() -> None:
    dates = [dt.date(1, 1, 1), dt.date(2000, 1, 1), dt.date(9999, 12, 31), None]
    assert column("date", pa.array(dates, pa.date32())) == dates
    with pytest.raises(DataError, match=r'column "c".*before 0001-01-01'):
        column("date", pa.array([-800_000], pa.int32()).cast(pa.date32()))
    stamps = [dt.datetime(1, 1, 1), dt.datetime(1999, 12, 31, 23, 59, 59, 999999), None]
    assert column("timestamp", pa.array(stamps, pa.timestamp("us"))) == stamps
    assert column("timestamp", pa.array([86_400], pa.timestamp("s", tz="UTC"))) == [
        dt.datetime(1970, 1, 2)
    ]
    times = column("time", pa.array([0, 45_296_123_456_789, None], pa.time64("ns")))
    assert times == [dt.time(0), dt.time(12, 34, 56, 123457), None]


def pg_text_rounding(ns: int) -> int:
    """Microseconds PostgreSQL stores for the text ``<seconds>.<9 digits>`` (strtod, rint)."""
    seconds, fraction = divmod(ns, 10**9)
    return seconds * 10**6 + round(float(f"0.{fraction:09d}") * 1e6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=50))
def test_nanoseconds_round_like_postgres_reads_text(values: list[int]) -> None:
    got = column("timestamp", pa.array(values, pa.timestamp("ns")))
    epoch = dt.datetime(1970, 1, 1)
    for ns, stamp in zip(values, got, strict=True):
        assert stamp - epoch == dt.timedelta(microseconds=pg_text_rounding(ns)), ns


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 38).flatmap(
        lambda p: st.tuples(
            st.just(p),
            st.integers(0, p),
        )
    ),
    st.data(),
)
def test_numeric_any_precision_and_scale(ps: tuple[int, int], data: st.DataObject) -> None:
    precision, scale = ps
    bound = 10**precision - 1
    unscaled = data.draw(st.lists(st.integers(-bound, bound) | st.none(), min_size=1, max_size=20))
    exact = Context(prec=80)
    values = [None if u is None else Decimal(u).scaleb(-scale, exact) for u in unscaled]
    got = column("numeric", pa.array(values, pa.decimal128(precision, scale)))
    for want, have in zip(values, got, strict=True):
        if want is None:
            assert have is None
        else:
            assert have == want and have.as_tuple().exponent == -scale, (want, have)


def test_numeric_from_integers_and_small_and_large_paths() -> None:
    ints = [0, -1, 10**15, -(2**63), 2**63 - 1, None]
    assert column("numeric", pa.array(ints, pa.int64())) == ints
    # The int64 minimum alone: abs() of it overflows, so it must not pass for a small value.
    for alone in ([-(2**63)], [-(2**63), 5], [-(9 * 10**15)]):
        assert column("numeric", pa.array(alone, pa.int64())) == alone
        as_decimal = pa.array([Decimal(v) for v in alone], pa.decimal128(38, 0))
        assert column("numeric", as_decimal) == alone
    small = [Decimal("-0.01"), Decimal("12.50"), Decimal("0.00"), None]
    assert column("numeric", pa.array(small, pa.decimal128(12, 2))) == small
    huge = [Decimal(10**35), Decimal("-12345678901234567890123456789.01")]
    assert column("numeric", pa.array(huge, pa.decimal128(38, 2))) == huge


def test_text_json_jsonb_and_bytea() -> None:
    texts = ["", "é🦆", None, 'a,"b"\n']
    assert column("text", pa.array(texts)) == texts
    assert column("text", pa.array([Decimal("1.50"), None], pa.decimal128(5, 2))) == ["1.50", None]
    assert column("text", pa.array([True, None])) == ["true", None]
    assert column("jsonb", pa.array(['{"a": [1, 2]}', None])) == [{"a": [1, 2]}, None]
    assert column("json", pa.array(['{"a":1}'])) == [{"a": 1}]
    blobs = [b"", b"\x00\xff", None]
    assert [None if b is None else bytes(b) for b in column("bytea", pa.array(blobs))] == blobs


def test_nul_policy_applies_to_text() -> None:
    with pytest.raises(DataError, match='column "c"'):
        column("text", pa.array(["a\x00b"]))
    encoded = encode_binary_batch(pa.table({"c": ["a\x00b", None]}), ["text"], nul_policy="strip")
    assert encoded.nul_fixed == {"c": 1}
    assert split_rows(encoded.data, 1) == [[b"ab"], [None]]


def test_arrow_type_that_does_not_fit_the_encoder_is_an_error() -> None:
    with pytest.raises(DataError, match='column "c" arrived as Arrow string'):
        column("date", pa.array(["2024-01-01"]))


def test_several_columns_empty_batch_and_encoder_count() -> None:
    batch = pa.table({"a": pa.array([1, None], pa.int64()), "b": ["x", None]})
    assert decode(["int8", "text"], batch) == [[1, "x"], [None, None]]
    assert encode_binary_batch(batch.slice(0, 0), ["int8", "text"]).rows == 0
    with pytest.raises(ValueError, match="1 encoders for 2 columns"):
        encode_binary_batch(batch, ["int8"])

"""Arrow batches through ``write_batches`` into a real PostgreSQL, read back value by value."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from snowpg.copy import binary_plan, writer
from snowpg.copy.binary_plan import CopyEncoding
from snowpg.copy.writer import CopyResult, write_batches
from snowpg.errors import ConfigError, DataError

pytestmark = pytest.mark.integration

# Every test runs through both encoders: they must store the same values.
FORMATS = pytest.mark.parametrize("fmt", ["csv", "binary"])

UTC = dt.UTC
NAN, INF = float("nan"), float("inf")

# (column, PostgreSQL type, Arrow type, values written, values expected back)
COLUMNS: list[tuple[str, str, pa.DataType, list[Any], list[Any]]] = [
    ("c_small", "smallint", pa.int16(), [-32768, 32767, 0, None], None),
    ("c_int", "integer", pa.int32(), [-(2**31), 2**31 - 1, 0, None], None),
    ("c_big", "bigint", pa.int64(), [-(2**63), 2**63 - 1, 0, None], None),
    (
        "c_num0",
        "numeric(38,0)",
        pa.decimal128(38, 0),
        [Decimal(10**37), Decimal(-(10**37)), Decimal(10**38 - 1), None],
        None,
    ),
    (
        "c_num10",
        "numeric(38,10)",
        pa.decimal128(38, 10),
        [
            Decimal("1234567890123456789012345678.0123456789"),
            Decimal("-0.0000000001"),
            Decimal("-9999999999999999999999999999.9999999999"),
            None,
        ],
        None,
    ),
    ("c_float", "double precision", pa.float64(), [NAN, INF, -INF, -0.0], None),
    (
        "c_float2",
        "double precision",
        pa.float64(),
        [0.1, 5e-324, 1.7976931348623157e308, None],
        None,
    ),
    ("c_bool", "boolean", pa.bool_(), [True, False, None, True], None),
    (
        "c_date",
        "date",
        pa.date32(),
        [dt.date(1, 1, 1), dt.date(9999, 12, 31), None, dt.date(2024, 2, 29)],
        None,
    ),
    (
        "c_time",
        "time",
        pa.time64("ns"),
        [0, 45_296_123_456_789, 86_399_999_999_000, None],
        [dt.time(0), dt.time(12, 34, 56, 123457), dt.time(23, 59, 59, 999999), None],
    ),
    (
        "c_ts",
        "timestamp",
        pa.timestamp("ns"),
        [1, 1_719_837_296_123_456_789, -2_208_988_800_000_000_000, None],
        [
            dt.datetime(1970, 1, 1),
            dt.datetime(2024, 7, 1, 12, 34, 56, 123457),
            dt.datetime(1900, 1, 1),
            None,
        ],
    ),
    (
        "c_ts_us",
        "timestamp",
        pa.timestamp("us"),
        [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999), None, None],
        None,
    ),
    (
        "c_tstz",
        "timestamptz",
        pa.timestamp("ns", tz="America/New_York"),
        [1_719_849_600_000_000_000, 1_704_067_200_000_001_000, 0, None],
        [
            dt.datetime(2024, 7, 1, 16, tzinfo=UTC),
            dt.datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
            dt.datetime(1970, 1, 1, tzinfo=UTC),
            None,
        ],
    ),
    (
        "c_json",
        "jsonb",
        pa.string(),
        ['{"a": [1, 2.5, "x,\\"y\\"\\n"], "b": null}', '"\\u00e9🦆"', "null", None],
        [{"a": [1, 2.5, 'x,"y"\n'], "b": None}, "é🦆", None, None],
    ),
    ("c_text", "text", pa.string(), ["", None, 'a,b"c\nd\\e\r\n', "🦆e\u0301 שלום \\."], None),
    ("c_vc", "varchar(20)", pa.large_string(), ["NULL", "", None, "  spaced  "], None),
    ("c_bytea", "bytea", pa.binary(), [b"", None, b'\x00\xff,"\n', bytes(range(256))], None),
    (
        "c_dec_text",
        "text",
        pa.decimal128(38, 10),
        [Decimal("0.0000000001"), Decimal("-12.5"), None, Decimal(0)],
        ["0.0000000001", "-12.5000000000", None, "0.0000000000"],
    ),
    (
        "c_float_text",
        "text",
        pa.float64(),
        [NAN, -INF, -0.0, 0.1],
        ["NaN", "-Infinity", "-0", "0.1"],
    ),
]


def copy_statement(table: str, columns: list[str], fmt: str = "csv") -> sql.Composed:
    return sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT {})").format(
        sql.Identifier("public"),
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        sql.SQL(fmt),
    )


def write(
    cur: psycopg.Cursor[Any],
    table: str,
    cols: list[tuple[str, str]],
    batches: list[pa.Table] | list[pa.RecordBatch],
    fmt: str,
    **kwargs: Any,
) -> CopyResult:
    """``write_batches`` into ``table`` with CSV or with the binary encoders of the column types."""
    kinds: list[binary_plan.Kind | None] = []
    if fmt == "binary":
        kinds = [binary_plan.pg_kind(t) for _n, t in cols]
        assert None not in kinds, cols
    return write_batches(
        cur,
        copy_statement(table, [n for n, _t in cols], fmt),
        batches,
        encoding=CopyEncoding(fmt),
        binary_kinds=kinds,  # type: ignore[arg-type]
        **kwargs,
    )


def create_table(conn: psycopg.Connection[Any], table: str, cols: list[tuple[str, str]]) -> None:
    defs = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in cols
    )
    conn.execute(
        sql.SQL("CREATE TABLE {} (id serial primary key, {})").format(sql.Identifier(table), defs)
    )
    conn.commit()


def edge_batch() -> pa.RecordBatch:
    return pa.record_batch(
        [pa.array(values, type_) for _n, _t, type_, values, _e in COLUMNS],
        names=[name for name, *_ in COLUMNS],
    )


def load_edge_table(conn: psycopg.Connection[Any], fmt: str) -> CopyResult:
    cols = [(name, pg_type) for name, pg_type, *_ in COLUMNS]
    create_table(conn, "edge", cols)
    with conn.cursor() as cur:
        result = write(cur, "edge", cols, [edge_batch()], fmt)
    conn.commit()
    return result


def same(expected: Any, got: Any) -> bool:
    if isinstance(expected, float) and isinstance(got, float):
        if math.isnan(expected):
            return math.isnan(got)
        return expected == got and math.copysign(1, expected) == math.copysign(1, got)
    return bool(expected == got) and type(expected) is type(got)


@FORMATS
def test_every_type_round_trips(pg_dsn: str, fmt: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        result = load_edge_table(conn, fmt)
        assert result.rows == 4 and result.bytes > 0 and result.nul_fixed == {}
        names = sql.SQL(", ").join(sql.Identifier(c[0]) for c in COLUMNS)
        rows = conn.execute(sql.SQL("SELECT {} FROM edge ORDER BY id").format(names)).fetchall()
    assert len(rows) == 4
    for i, (name, _pg, _arrow, values, expected) in enumerate(COLUMNS):
        want = expected if expected is not None else values
        for r, row in enumerate(rows):
            assert same(want[r], row[i]), f"{name} row {r}: wrote {values[r]!r}, read {row[i]!r}"


@FORMATS
def test_session_timezone_does_not_change_stored_values(pg_dsn: str, fmt: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("SET TimeZone = 'America/New_York'")
        load_edge_table(conn, fmt)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        got = conn.execute(
            "SELECT extract(epoch FROM c_tstz), c_ts::text, c_ts_us::text FROM edge ORDER BY id"
        ).fetchall()
    assert [g[0] for g in got] == [
        Decimal("1719849600.000000"),
        Decimal("1704067200.000001"),
        0,
        None,
    ]
    assert [g[1] for g in got] == [
        "1970-01-01 00:00:00",
        "2024-07-01 12:34:56.123457",
        "1900-01-01 00:00:00",
        None,
    ]
    assert [g[2] for g in got] == ["0001-01-01 00:00:00", "9999-12-31 23:59:59.999999", None, None]


@FORMATS
def test_single_column_null_row_and_empty_string(pg_dsn: str, fmt: str) -> None:
    # A one-column NULL row is an empty line: PostgreSQL must read it as NULL, not skip it.
    with psycopg.connect(pg_dsn) as conn:
        create_table(conn, "one", [("v", "text")])
        with conn.cursor() as cur:
            write(cur, "one", [("v", "text")], [pa.table({"v": ["x", None, ""]})], fmt)
        assert conn.execute("SELECT v FROM one ORDER BY id").fetchall() == [("x",), (None,), ("",)]


@FORMATS
def test_batches_of_changing_types_progress_and_skipped_empties(pg_dsn: str, fmt: str) -> None:
    batches = [
        pa.table({"n": pa.array([1, 2], pa.int8()), "s": pa.array(["a", "b"])}),
        pa.table({"n": pa.array([], pa.int64()), "s": pa.array([], pa.string())}),
        pa.table(
            {
                "n": pa.array([Decimal(10**30)], pa.decimal128(38, 0)),
                "s": pa.array(["c"]).dictionary_encode(),
            }
        ),
    ]
    seen: list[tuple[int, int]] = []
    with psycopg.connect(pg_dsn) as conn:
        cols = [("n", "numeric(38,0)"), ("s", "text")]
        create_table(conn, "mix", cols)
        with conn.cursor() as cur:
            result = write(
                cur, "mix", cols, batches, fmt, on_progress=lambda r, b: seen.append((r, b))
            )
        conn.commit()
        rows = conn.execute("SELECT n, s FROM mix ORDER BY id").fetchall()
    assert rows == [(Decimal(1), "a"), (Decimal(2), "b"), (Decimal(10**30), "c")]
    assert [r for r, _b in seen] == [2, 1]
    assert result.rows == 3 and result.bytes == sum(b for _r, b in seen)


@FORMATS
def test_no_batches_and_large_batch_split_into_writes(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setattr(writer, "MAX_WRITE_BYTES", 7)  # forces every batch across many writes
    cols = [("s", "text")]
    with psycopg.connect(pg_dsn) as conn:
        create_table(conn, "big", cols)
        with conn.cursor() as cur:
            assert write(cur, "big", cols, [], fmt) == CopyResult(0, 0, {})
            values = [f'row {i} ✓ \n,"' for i in range(500)]
            result = write(cur, "big", cols, [pa.table({"s": values})], fmt)
        assert result.rows == 500
        assert [r[0] for r in conn.execute("SELECT s FROM big ORDER BY id")] == values


def test_writer_does_not_commit(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        create_table(conn, "nc", [("s", "text")])
        with conn.cursor() as cur:
            write_batches(cur, copy_statement("nc", ["s"]), [pa.table({"s": ["a"]})])
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM nc").fetchone() == (0,)


@FORMATS
def test_nul_policies_reach_postgres(pg_dsn: str, fmt: str) -> None:
    batch = pa.table({"t": ["a\x00b", "ok"], "j": ['{"k": "x\\u0000y"}', '{"k": "\\\\u0000"}']})
    cols = [("t", "text"), ("j", "jsonb")]
    with psycopg.connect(pg_dsn) as conn:
        create_table(conn, "nul", cols)
        with conn.cursor() as cur, pytest.raises(DataError, match='column "t"'):
            write(cur, "nul", cols, [batch], fmt, json_columns=["j"])
        conn.rollback()
        with conn.cursor() as cur:
            result = write(
                cur, "nul", cols, [batch], fmt, nul_policy="replace:\ufffd", json_columns=["j"]
            )
        conn.commit()
        rows = conn.execute("SELECT t, j FROM nul ORDER BY id").fetchall()
    assert result.nul_fixed == {"t": 1, "j": 1}
    assert rows == [("a\ufffdb", {"k": "x\ufffdy"}), ("ok", {"k": "\\u0000"})]


def test_bad_policy_fails_before_copy(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn, conn.cursor() as cur:
        with pytest.raises(ConfigError, match="nul_policy"):
            write_batches(cur, copy_statement("missing", ["s"]), [], nul_policy="zap")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

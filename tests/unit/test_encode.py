"""Text forms of every Arrow type snowpg writes, and the NUL policies, checked on the COPY bytes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from snowpg.copy.encode import (
    EncodedBatch,
    copy_sql_format,
    encode_batch,
    find_nul_columns,
)
from snowpg.errors import ConfigError, DataError
from snowpg.model import parse_nul_policy


def lines(arr: pa.Array | pa.ChunkedArray, **kwargs: Any) -> list[str]:
    """The COPY lines of a one-column batch (values here hold no newline)."""
    return encode_batch(pa.table({"c": arr}), **kwargs).data.decode().splitlines()


def test_copy_format_is_csv() -> None:
    assert copy_sql_format() == "csv"


def test_null_is_unquoted_empty_and_empty_string_is_quoted() -> None:
    assert lines(pa.array(["", None, "x"])) == ['""', "", '"x"']


def test_all_columns_in_order_one_line_per_row() -> None:
    batch = pa.record_batch(
        [pa.array([1, None]), pa.array(["a", ""]), pa.array([True, False])], names=["i", "s", "b"]
    )
    out = encode_batch(batch)
    assert out == EncodedBatch(data=b'"1","a","true"\n,"","false"\n', rows=2, nul_fixed={})


def test_empty_batch_gives_no_bytes() -> None:
    assert encode_batch(pa.table({"c": pa.array([], pa.int64())})) == EncodedBatch(b"", 0, {})


def test_table_with_several_chunks() -> None:
    col = pa.chunked_array([pa.array([1, 2]), pa.array([3])])
    assert lines(col) == ['"1"', '"2"', '"3"']


def test_csv_special_characters_are_quoted_and_doubled() -> None:
    values = ["a,b", 'say "hi"', "two\nlines", "cr\rlf\r\n", "back\\slash", "\\.", "tab\tx"]
    data = encode_batch(pa.table({"c": pa.array(values)})).data
    expected = '"a,b"\n"say ""hi"""\n"two\nlines"\n"cr\rlf\r\n"\n"back\\slash"\n"\\."\n"tab\tx"\n'
    assert data == expected.encode()


def test_unicode_passes_through() -> None:
    values = ["🦆👩‍👩‍👧", "e\u0301", "שלום עולם", "مرحبا", "\u202eRTL override"]
    assert lines(pa.array(values)) == [f'"{v}"' for v in values]
    assert lines(pa.array(values, pa.large_string())) == [f'"{v}"' for v in values]
    assert lines(pa.array(values, pa.string_view())) == [f'"{v}"' for v in values]


@pytest.mark.parametrize(
    ("arr", "expected"),
    [
        (pa.array([-128, 127, None], pa.int8()), ['"-128"', '"127"', ""]),
        (pa.array([-32768, 32767], pa.int16()), ['"-32768"', '"32767"']),
        (pa.array([-(2**31), 2**31 - 1], pa.int32()), [f'"{-(2**31)}"', f'"{2**31 - 1}"']),
        (pa.array([-(2**63), 2**63 - 1], pa.int64()), [f'"{-(2**63)}"', f'"{2**63 - 1}"']),
        (pa.array([2**64 - 1], pa.uint64()), [f'"{2**64 - 1}"']),
    ],
)
def test_integers_exact(arr: pa.Array, expected: list[str]) -> None:
    assert lines(arr) == expected


@pytest.mark.parametrize(
    ("values", "type_", "expected"),
    [
        ([10**37, -(10**37), None], pa.decimal128(38, 0), [f'"{10**37}"', f'"{-(10**37)}"', ""]),
        ([10**38 - 1], pa.decimal128(38, 0), [f'"{10**38 - 1}"']),
        (
            ["1234567890123456789012345678.0123456789", "-9999999999999999999999999999.9999999999"],
            pa.decimal128(38, 10),
            [
                '"1234567890123456789012345678.0123456789"',
                '"-9999999999999999999999999999.9999999999"',
            ],
        ),
        (
            ["0.0000000001", "-0.0000000001", "0", "-12.5"],
            pa.decimal128(38, 10),
            ['"0.0000000001"', '"-0.0000000001"', '"0.0000000000"', '"-12.5000000000"'],
        ),
        (["0.000001", "1.5"], pa.decimal128(12, 6), ['"0.000001"', '"1.500000"']),
        (["-1.5", "1E-30"], pa.decimal256(50, 30), [f'"-1.5{"0" * 29}"', f'"0.{"0" * 29}1"']),
        (["12300", "-100"], pa.decimal128(5, -2), ['"12300"', '"-100"']),
    ],
)
def test_decimals_plain_and_exact(
    values: list[Any], type_: pa.DataType, expected: list[str]
) -> None:
    arr = pa.array([None if v is None else Decimal(v) for v in values], type_)
    assert lines(arr) == expected


def test_floats_specials_and_negative_zero() -> None:
    arr = pa.array([float("nan"), float("inf"), float("-inf"), -0.0, 0.0, None])
    assert lines(arr) == ['"NaN"', '"Infinity"', '"-Infinity"', '"-0"', '"0"', ""]


def test_floats_shortest_round_trip() -> None:
    values = [0.1, 1 / 3, 1e300, 5e-324, 1.7976931348623157e308, -2.5e-7, 123456789012345678.0]
    out = [s.strip('"') for s in lines(pa.array(values))]
    assert out[0] == "0.1"
    assert [float(s) for s in out] == values
    assert all(len(s) <= len(repr(v)) + 1 for s, v in zip(out, values, strict=True))


def test_float32_keeps_its_own_shortest_text() -> None:
    assert lines(pa.array([0.1, float("nan")], pa.float32())) == ['"0.1"', '"NaN"']


def test_booleans() -> None:
    assert lines(pa.array([True, False, None])) == ['"true"', '"false"', ""]


def test_dates_full_range() -> None:
    arr = pa.array([dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2024, 2, 29), None])
    assert lines(arr) == ['"0001-01-01"', '"9999-12-31"', '"2024-02-29"', ""]
    assert lines(pa.array([dt.date(1, 1, 1)], pa.date64())) == ['"0001-01-01"']


def test_dates_before_year_one_are_refused_with_the_column_name() -> None:
    with pytest.raises(DataError, match='column "c" holds dates before 0001-01-01'):
        lines(pa.array([-800_000], pa.date32()))


@pytest.mark.parametrize(
    ("arr", "expected"),
    [
        (
            pa.array([0, 86_399_999_999_999], pa.time64("ns")),
            ["00:00:00.000000000", "23:59:59.999999999"],
        ),
        (pa.array([1, 86_399_999_999], pa.time64("us")), ["00:00:00.000001", "23:59:59.999999"]),
        (pa.array([3_723], pa.time32("s")), ["01:02:03"]),
    ],
)
def test_times(arr: pa.Array, expected: list[str]) -> None:
    assert lines(arr) == [f'"{e}"' for e in expected]


def test_timestamps_without_zone() -> None:
    ns = pa.array([1, -1, None], pa.timestamp("ns"))
    assert lines(ns) == ['"1970-01-01 00:00:00.000000001"', '"1969-12-31 23:59:59.999999999"', ""]
    us = pa.array([dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)])
    assert lines(us) == ['"0001-01-01 00:00:00.000000"', '"9999-12-31 23:59:59.999999"']


def test_timestamps_with_zone_are_written_in_utc() -> None:
    # 2024-07-01 12:00:00.000000123 in New York is 16:00:00.000000123 UTC.
    utc_ns = 1_719_849_600_000_000_123
    ny = pa.array([utc_ns, None], pa.timestamp("ns", tz="America/New_York"))
    assert lines(ny) == ['"2024-07-01 16:00:00.000000123+00"', ""]
    offset = pa.array([0], pa.timestamp("s", tz="+05:30"))
    assert lines(offset) == ['"1970-01-01 00:00:00+00"']


def test_binary_hex_with_empty_null_and_slices() -> None:
    arr = pa.array([b"\x00\n\xff", None, b"", b"ab", None, b"\x1b"], pa.binary())
    assert lines(arr) == ['"\\x000aff"', "", '"\\x"', '"\\x6162"', "", '"\\x1b"']
    assert lines(arr.slice(2, 3)) == ['"\\x"', '"\\x6162"', ""]
    assert lines(arr.slice(5)) == ['"\\x1b"']
    two_chunks = pa.chunked_array([arr.slice(0, 1), arr.slice(3, 1)])
    assert lines(two_chunks) == ['"\\x000aff"', '"\\x6162"']


def test_binary_variants() -> None:
    assert lines(pa.array([b"ab", None], pa.large_binary()).slice(1)) == [""]
    assert lines(pa.array([b"ab"], pa.binary(2))) == ['"\\x6162"']
    assert lines(pa.array([bytes(range(256))])) == ['"\\x' + bytes(range(256)).hex() + '"']
    assert lines(pa.array([None, None], pa.binary())) == ["", ""]


def test_dictionary_columns_are_decoded() -> None:
    assert lines(pa.array(["a", "", None, "a"]).dictionary_encode()) == ['"a"', '""', "", '"a"']


def test_null_typed_column() -> None:
    assert lines(pa.array([None, None])) == ["", ""]


def test_unsupported_type_names_column_and_type() -> None:
    batch = pa.table({"ok": pa.array([1]), "TAGS": pa.array([[1, 2]])})
    with pytest.raises(DataError, match=r'column "TAGS" has Arrow type list<item: int64>') as exc:
        encode_batch(batch)
    assert exc.value.column == "TAGS"


def test_nul_fail_names_column_and_policies() -> None:
    batch = pa.table({"ok": pa.array(["a"]), "NOTE": pa.array(["a\x00b"])})
    with pytest.raises(DataError, match='column "NOTE" holds 1 value') as exc:
        encode_batch(batch)
    assert exc.value.column == "NOTE"
    assert 'nul_policy to "strip" or "replace:<char>"' in str(exc.value)


def test_nul_strip_and_replace_count_values() -> None:
    batch = pa.table(
        {"a": pa.array(["x\x00y\x00", "\x00", "clean", None]), "b": pa.array(["", "z", "", ""])}
    )
    stripped = encode_batch(batch, nul_policy="strip")
    assert stripped.data == b'"xy",""\n"","z"\n"clean",""\n,""\n'
    assert stripped.nul_fixed == {"a": 2}
    replaced = encode_batch(batch, nul_policy="replace:?")
    assert replaced.data.splitlines()[:2] == [b'"x?y?",""', b'"?","z"']
    assert replaced.nul_fixed == {"a": 2}


def test_json_nul_escape_only_in_json_columns() -> None:
    doc = '{"k":"a\\u0000b","e":"\\\\u0000","z":"\\u0000\\u0000"}'
    batch = pa.table({"V": pa.array([doc, None]), "T": pa.array([doc, "x"])})
    assert find_nul_columns(batch) == []
    assert find_nul_columns(batch, json_columns=["v"]) == ["V"]
    with pytest.raises(DataError, match='column "V"'):
        encode_batch(batch, json_columns=["V"])
    out = encode_batch(batch, nul_policy="strip", json_columns=["V"])
    first = out.data.decode().splitlines()[0]
    # The escaped backslash ("\\u0000" in JSON text) is text, not a NUL, and stays.
    assert first.startswith('"{""k"":""ab"",""e"":""\\\\u0000"",""z"":""""}"')
    assert out.nul_fixed == {"V": 1}


def test_json_nul_replacement_is_json_escaped() -> None:
    batch = pa.table({"j": pa.array(['["\\u0000"]', '["\x00"]'])})
    out = encode_batch(batch, nul_policy='replace:"', json_columns=["j"])
    assert out.data == b'"[""\\""""]"\n"[""""""]"\n'
    assert out.nul_fixed == {"j": 2}


def test_find_nul_columns_raw() -> None:
    batch = pa.record_batch(
        [pa.array(["a\x00"]), pa.array([b"\x00"]), pa.array(["b"]).dictionary_encode()],
        names=["s", "bin", "d"],
    )
    assert find_nul_columns(batch) == ["s"]


@pytest.mark.parametrize("bad", ["", "drop", "replace:", "replace:\x00", "STRIP"])
def test_invalid_nul_policy_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="nul_policy"):
        parse_nul_policy(bad)
    with pytest.raises(ConfigError):
        encode_batch(pa.table({"c": pa.array(["a"])}), nul_policy=bad)


def test_valid_nul_policies() -> None:
    assert parse_nul_policy("fail").action == "fail"
    assert parse_nul_policy("strip").action == "strip"
    assert parse_nul_policy("replace:\ufffd").replacement == "\ufffd"

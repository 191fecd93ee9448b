"""VECTOR and structured types (Arrow lists, structs, maps) become exact JSON text."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa

from snowpg.snowflake.nested import flatten_nested, nested_to_json


def test_vector_fixed_size_list_becomes_a_json_array() -> None:
    vec = pa.array([[1.5, -2.0, 0.1], None], type=pa.list_(pa.float32(), 3))
    out = nested_to_json(vec).to_pylist()
    assert out[1] is None
    assert out[0] == "[1.5, -2.0, 0.1]"  # float32's shortest text, not 0.10000000149011612
    big = nested_to_json(pa.array([[3.4028235e38, 1e-45, -0.0]], pa.list_(pa.float32(), 3)))
    assert json.loads(big[0].as_py(), parse_float=Decimal) == [
        Decimal("3.4028235e+38"),
        Decimal("1e-45"),
        Decimal("-0.0"),
    ]
    ints = nested_to_json(pa.array([[1, -(2**31)]], pa.list_(pa.int32(), 2)))
    assert ints.to_pylist() == ["[1, -2147483648]"]


def test_structured_object_array_map_keep_exact_numbers() -> None:
    obj = pa.array(
        [{"a": Decimal("12345678901234567890.123456789"), "b": "é"}],
        type=pa.struct([("a", pa.decimal128(38, 9)), ("b", pa.string())]),
    )
    arr = pa.array([[1, 2, None]], type=pa.list_(pa.int64()))
    mp = pa.array([[("k", 1), ("z", 2)]], type=pa.map_(pa.string(), pa.int32()))
    table = flatten_nested(pa.table({"O": obj, "A": arr, "M": mp, "N": pa.array([7])}))
    assert table.schema.field("N").type == pa.int64()  # untouched
    o = json.loads(table.column("O")[0].as_py(), parse_float=Decimal)
    assert o == {"a": Decimal("12345678901234567890.123456789"), "b": "é"}
    assert json.loads(table.column("A")[0].as_py()) == [1, 2, None]
    assert json.loads(table.column("M")[0].as_py()) == {"k": 1, "z": 2}

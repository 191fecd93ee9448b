"""Structured Snowflake values (VECTOR, structured OBJECT/ARRAY/MAP) as the JSON text snowpg writes.

The service sends VECTOR as an Arrow fixed-size list and structured types as Arrow struct, list or
map columns (connector ``CArrowTableIterator.cpp``: ``FixedSizeListConverter``, ``ObjectConverter``,
``ArrayConverter``, ``MapConverter``); semi-structured VARIANT/OBJECT/ARRAY arrive as JSON text.
snowpg maps all of them to ``jsonb`` (docs/types.md), so nested Arrow columns are turned into JSON
text here, before the COPY encoders, which then see the same text column as for VARIANT. Numbers
keep their exact digits (decimals are written as their text, not through float).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa


def is_nested(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_struct(t)
        or pa.types.is_map(t)
    )


def _json(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else json.dumps(str(value))
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else json.dumps(str(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes):
        return json.dumps(base64.b16encode(value).decode())
    if isinstance(value, dt.date | dt.time | dt.datetime):
        return json.dumps(value.isoformat())
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        # pyarrow gives a map's entries as (key, value) pairs: written as an object
        if value and all(isinstance(e, tuple) and len(e) == 2 for e in value):
            return "{" + ", ".join(f"{json.dumps(str(k))}: {_json(v)}" for k, v in value) + "}"
        return "[" + ", ".join(_json(v) for v in value) + "]"
    return json.dumps(str(value))


def _float32_list(value: list[Any]) -> str:
    # The shortest text that reads back as the same float32 (0.1, not 0.10000000149011612).
    return "[" + ", ".join("null" if v is None else _json_float32(v) for v in value) + "]"


def _json_float32(v: float) -> str:
    return str(np.float32(v)) if math.isfinite(v) else json.dumps(str(v))


def nested_to_json(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A nested Arrow column as a string column of JSON text (NULL stays NULL).

    A list of float32 (VECTOR(FLOAT, n)) is written with each element's shortest float32 text,
    the form Snowflake shows; widened to a double it would gain digits the value never had."""
    t = column.type
    f32 = (pa.types.is_list(t) or pa.types.is_fixed_size_list(t)) and t.value_type == pa.float32()
    write = _float32_list if f32 else _json
    return pa.array(
        [None if v is None else write(v) for v in column.to_pylist()], type=pa.large_string()
    )


def flatten_nested(table: pa.Table) -> pa.Table:
    """``table`` with every nested column replaced by its JSON text; others untouched."""
    for i, field in enumerate(table.schema):
        if is_nested(field.type):
            table = table.set_column(
                i, field.with_type(pa.large_string()), nested_to_json(table.column(i))
            )
    return table

"""Columns of a type fakesnow does not have (GEOGRAPHY, VECTOR), declared through the side channel.

A test creates such a column as VARCHAR holding the value's wire text (GeoJSON; a JSON array of
the vector's numbers) and registers ``{"types": {"COLUMN": "GEOGRAPHY" | "VECTOR(FLOAT, n)" |
"VECTOR(INT, n)"}}``. The stand-in then answers as the service does:

- in results, VECTOR as an Arrow fixed-size list of float32 / int32 with ``logicalType=VECTOR``
  (connector ``SnowflakeType.cpp`` knows ``VECTOR``; ``ConverterUtil.cpp`` reads it with
  ``FixedSizeListConverter``, ``ArrowTableConverter.cpp`` passes it through), rowtype
  ``vector`` with ``vectorDimension``;
- GEOGRAPHY as the GeoJSON text with ``logicalType=OBJECT`` (the default
  ``GEOGRAPHY_OUTPUT_FORMAT`` is GeoJSON, an object; the connector's Arrow type map has no
  GEOGRAPHY entry, so the field cannot be labelled otherwise) and rowtype ``geography``;
- in ``INFORMATION_SCHEMA.COLUMNS`` answers, ``DATA_TYPE`` ``VECTOR`` / ``GEOGRAPHY`` and no
  character length.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from snowpg.typefamilies import base_type

_VECTOR = re.compile(r"^\s*VECTOR\s*\(\s*(FLOAT|INT)\s*,\s*(\d+)\s*\)\s*$", re.I)


def _vector(arr: pa.Array, declared: str) -> pa.Array:
    m = _VECTOR.match(declared)
    assert m is not None
    element = pa.float32() if m.group(1).upper() == "FLOAT" else pa.int32()
    size = int(m.group(2))
    values = [None if v is None else json.loads(v) for v in arr.to_pylist()]
    typ = pa.list_(pa.field("element", element, nullable=False), size)
    return pa.array(values, type=typ)


def _column(arr: pa.Array, field: pa.Field, declared: str) -> tuple[pa.Array, pa.Field]:
    meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
    meta.pop("charLength", None)
    if base_type(declared) == "VECTOR":
        out = _vector(arr, declared)
        meta["logicalType"] = "VECTOR"
        return out, pa.field(field.name, out.type, nullable=True).with_metadata(meta)
    meta["logicalType"] = "OBJECT"
    return arr, field.with_metadata(meta)


def _rowtype(entry: dict[str, Any], declared: str) -> dict[str, Any]:
    out = {k: v for k, v in entry.items() if k not in ("length", "byteLength")}
    m = _VECTOR.match(declared)
    if m is not None:
        element = "real" if m.group(1).upper() == "FLOAT" else "fixed"
        out.update(type="vector", vectorDimension=int(m.group(2)))
        out["fields"] = [{"name": None, "type": element, "nullable": False}]
    else:
        out["type"] = "geography"
    return out


def _catalog(table: pa.Table, types: Mapping[str, str]) -> pa.Table:
    """``INFORMATION_SCHEMA.COLUMNS`` rows of declared columns with the declared type."""
    names = [n.upper() for n in table.column_names]
    col, dtype = names.index("COLUMN_NAME"), names.index("DATA_TYPE")
    rows = table.to_pylist()
    keys = table.column_names
    for row in rows:
        declared = types.get(str(row[keys[col]]))
        if declared is not None:
            row[keys[dtype]] = base_type(declared)
            if "CHARACTER_MAXIMUM_LENGTH" in names:
                row[keys[names.index("CHARACTER_MAXIMUM_LENGTH")]] = None
    return pa.Table.from_pylist(rows, schema=table.schema)


def declare(
    table: pa.Table, rowtype: list[dict[str, Any]], types: Mapping[str, str]
) -> tuple[pa.Table, list[dict[str, Any]]]:
    """``table`` and its rowtype with the declared columns as the service sends them."""
    if not types:
        return table, rowtype
    names = [n.upper() for n in table.column_names]
    if "COLUMN_NAME" in names and "DATA_TYPE" in names:
        return _catalog(table, types), rowtype
    table = table.combine_chunks()
    new_rowtype = list(rowtype)
    for i, field in enumerate(table.schema):
        declared = types.get(field.name)
        if declared is None:
            continue
        chunks = table.column(i).chunks
        whole = pa.concat_arrays(chunks) if chunks else pa.array([], field.type)
        arr, new_field = _column(whole, field, declared)
        table = table.set_column(i, new_field, arr)
        if i < len(new_rowtype):
            new_rowtype[i] = _rowtype(new_rowtype[i], declared)
    return table, new_rowtype

"""Snowflake -> PostgreSQL type mapping: one case a line through a single helper."""

from __future__ import annotations

import pytest

from snowpg import typefamilies
from snowpg.errors import DataError
from snowpg.model import SourceColumn
from snowpg.plan import typemap


def pg(
    data_type: str,
    precision: int | None = None,
    scale: int | None = None,
    length: int | None = None,
) -> str:
    col = SourceColumn("C", data_type, precision=precision, scale=scale, length=length)
    return typemap.pg_type_for(col)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # NUMBER(p,0): the smallest integer type holding every p-digit value
        (("NUMBER", 1, 0), "smallint"),
        (("NUMBER", 4, 0), "smallint"),
        (("NUMBER", 5, 0), "integer"),
        (("NUMBER", 9, 0), "integer"),
        (("NUMBER", 10, 0), "bigint"),
        (("NUMBER", 18, 0), "bigint"),
        (("NUMBER", 19, 0), "numeric(19,0)"),
        (("NUMBER", 38, 0), "numeric(38,0)"),
        (("NUMBER", 10), "bigint"),  # scale missing means 0
        (("NUMBER", 10, 2), "numeric(10,2)"),
        (("NUMBER", 38, 37), "numeric(38,37)"),
        (("NUMBER",), "numeric"),
        (("NUMBER(12,3)",), "numeric(12,3)"),  # parameters written into the type text
        (("number", 3, 0), "smallint"),
        (("DECIMAL", 20, 4), "numeric(20,4)"),
        (("NUMERIC", 6, 0), "integer"),
        (("DECIMAL",), "numeric"),
        (("DECFLOAT",), "numeric"),
        # integer synonyms are NUMBER(38,0), never bigint
        (("INT",), "numeric(38,0)"),
        (("INTEGER",), "numeric(38,0)"),
        (("BIGINT",), "numeric(38,0)"),
        (("SMALLINT",), "numeric(38,0)"),
        (("TINYINT",), "numeric(38,0)"),
        (("BYTEINT",), "numeric(38,0)"),
        (("INT", 38, 0), "numeric(38,0)"),
        # floats are all 64-bit in Snowflake
        (("FLOAT",), "double precision"),
        (("FLOAT4",), "double precision"),
        (("FLOAT8",), "double precision"),
        (("DOUBLE",), "double precision"),
        (("DOUBLE PRECISION",), "double precision"),
        (("REAL",), "double precision"),
        # text
        (("TEXT", None, None, 100), "varchar(100)"),
        (("TEXT", None, None, 10_485_760), "varchar(10485760)"),
        (("TEXT", None, None, 10_485_761), "text"),
        (("TEXT", None, None, 16_777_216), "text"),  # Snowflake's default: no real limit
        (("TEXT", None, None, 134_217_728), "text"),
        (("TEXT",), "text"),
        (("VARCHAR", None, None, 1), "varchar(1)"),
        (("VARCHAR(30)",), "varchar(30)"),
        (("STRING", None, None, 16_777_216), "text"),
        (("CHAR", None, None, 10), "varchar(10)"),  # no blank padding, unlike char(n)
        (("CHARACTER", None, None, 3), "varchar(3)"),
        (("NVARCHAR", None, None, 5), "varchar(5)"),
        # binary
        (("BINARY", None, None, 8_388_608), "bytea"),
        (("VARBINARY",), "bytea"),
        # others
        (("BOOLEAN",), "boolean"),
        (("DATE",), "date"),
        (("TIME",), "time"),
        (("TIME(9)",), "time"),
        (("TIMESTAMP_NTZ",), "timestamp"),
        (("TIMESTAMP_NTZ(9)",), "timestamp"),
        (("DATETIME",), "timestamp"),
        (("TIMESTAMP",), "timestamp"),
        (("TIMESTAMP_LTZ",), "timestamptz"),
        (("TIMESTAMP_TZ",), "timestamptz"),
        (("VARIANT",), "jsonb"),
        (("OBJECT",), "jsonb"),
        (("ARRAY",), "jsonb"),
        (("ARRAY(NUMBER(38,0))",), "jsonb"),
        (("MAP(VARCHAR, NUMBER)",), "jsonb"),
        (("GEOGRAPHY",), "jsonb"),
        (("GEOMETRY",), "jsonb"),
        (("VECTOR",), "jsonb"),
        (("VECTOR(FLOAT, 256)",), "jsonb"),
        ((" timestamp_tz ",), "timestamptz"),
    ],
)
def test_pg_type_for(source: tuple[object, ...], expected: str) -> None:
    assert pg(*source) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data_type", "orderable"),
    [
        ("NUMBER", True),
        ("DECIMAL", True),
        ("INT", True),
        ("FLOAT", True),
        ("DOUBLE PRECISION", True),
        ("TEXT", True),
        ("VARCHAR", True),
        ("DATE", True),
        ("TIME", True),
        ("TIMESTAMP_NTZ", True),
        ("TIMESTAMP_LTZ", True),
        ("TIMESTAMP_TZ", True),
        ("timestamp_ntz(9)", True),
        ("BOOLEAN", True),
        ("BINARY", True),
        ("VARIANT", False),
        ("OBJECT", False),
        ("ARRAY", False),
        ("GEOGRAPHY", False),
        ("GEOMETRY", False),
        ("VECTOR", False),
        ("INTERVAL", False),
    ],
)
def test_is_orderable(data_type: str, orderable: bool) -> None:
    assert typefamilies.is_orderable(data_type) is orderable


@pytest.mark.parametrize(
    ("data_type", "is_json"),
    [("VARIANT", True), ("OBJECT", True), ("ARRAY", True), ("GEOGRAPHY", True),
     ("GEOMETRY", True), ("VECTOR(INT, 3)", True), ("TEXT", False), ("NUMBER", False)],
)  # fmt: skip
def test_is_json_type(data_type: str, is_json: bool) -> None:
    assert typefamilies.is_json_type(data_type) is is_json


def test_unknown_type_names_column_and_type_and_says_what_to_do() -> None:
    with pytest.raises(DataError) as info:
        typemap.pg_type_for(SourceColumn("Weird Col", "INTERVAL"))
    text = str(info.value)
    assert '"Weird Col"' in text and "INTERVAL" in text
    assert "leave the column out" in text and "issue" in text
    assert info.value.column == "Weird Col"


def test_every_known_type_maps() -> None:
    for name in typemap.known_types():
        assert typemap.pg_type_for(SourceColumn("C", name))

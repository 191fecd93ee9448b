"""The one list of Snowflake type families and the one base-type parser: one case a line."""

from __future__ import annotations

import ast

import pytest

from snowpg import typefamilies
from snowpg.typefamilies import base_type, family, type_arguments


@pytest.mark.parametrize(
    ("sql_type", "base"),
    [
        ("NUMBER", "NUMBER"),
        ("NUMBER(38,0)", "NUMBER"),
        ("number(38, 0)", "NUMBER"),
        ("Number (10,2)", "NUMBER"),
        ("  DECIMAL(10,2)  ", "DECIMAL"),
        ("TIMESTAMP_NTZ(9)", "TIMESTAMP_NTZ"),
        ("timestamp_tz(3)", "TIMESTAMP_TZ"),
        ("VARCHAR(16777216)", "VARCHAR"),
        ("double  precision", "DOUBLE PRECISION"),
        ("character varying(10)", "CHARACTER VARYING"),
        ("TIMESTAMP WITH LOCAL TIME ZONE", "TIMESTAMP WITH LOCAL TIME ZONE"),
        ("VECTOR(FLOAT, 3)", "VECTOR"),
        ("VECTOR(INT, 16)", "VECTOR"),
        ("GEOGRAPHY", "GEOGRAPHY"),
        ("variant", "VARIANT"),
    ],
)
def test_base_type(sql_type: str, base: str) -> None:
    assert base_type(sql_type) == base


@pytest.mark.parametrize(
    ("sql_type", "args"),
    [
        ("NUMBER(10,2)", [10, 2]),
        ("NUMBER( 38 , 0 )", [38, 0]),
        ("VARCHAR(20)", [20]),
        ("NUMBER", []),
        ("VECTOR(FLOAT, 3)", []),
    ],
)
def test_type_arguments(sql_type: str, args: list[int]) -> None:
    assert type_arguments(sql_type) == args


@pytest.mark.parametrize(
    ("sql_type", "expected"),
    [
        # fixed-point and its integer synonyms
        ("NUMBER(38,0)", "number"),
        ("DECIMAL(10,2)", "number"),
        ("NUMERIC", "number"),
        ("DEC(5,1)", "number"),
        ("INT", "number"),
        ("INTEGER", "number"),
        ("BIGINT", "number"),
        ("SMALLINT", "number"),
        ("TINYINT", "number"),
        ("BYTEINT", "number"),
        # DECFLOAT has no fixed width and no binary encoder
        ("DECFLOAT", "other"),
        ("FLOAT", "float"),
        ("FLOAT4", "float"),
        ("FLOAT8", "float"),
        ("DOUBLE", "float"),
        ("DOUBLE PRECISION", "float"),
        ("REAL", "float"),
        ("TEXT", "text"),
        ("VARCHAR(10)", "text"),
        ("STRING", "text"),
        ("CHAR(3)", "text"),
        ("CHARACTER", "text"),
        ("NCHAR", "text"),
        ("NVARCHAR", "text"),
        ("NVARCHAR2", "text"),
        ("CHAR VARYING", "text"),
        ("NCHAR VARYING", "text"),
        ("CHARACTER VARYING(5)", "text"),
        ("BINARY", "binary"),
        ("VARBINARY(8)", "binary"),
        ("BOOLEAN", "bool"),
        ("DATE", "date"),
        ("TIME(9)", "time"),
        ("TIMESTAMP_NTZ(9)", "timestamp"),
        ("TIMESTAMP", "timestamp"),
        ("DATETIME", "timestamp"),
        ("TIMESTAMP WITHOUT TIME ZONE", "timestamp"),
        ("TIMESTAMP_LTZ", "timestamp"),
        ("TIMESTAMP WITH LOCAL TIME ZONE", "timestamp"),
        ("TIMESTAMP_TZ(3)", "timestamp"),
        ("TIMESTAMP WITH TIME ZONE", "timestamp"),
        ("VARIANT", "json"),
        ("OBJECT", "json"),
        ("ARRAY", "json"),
        ("MAP", "json"),
        ("GEOGRAPHY", "json"),
        ("GEOMETRY", "json"),
        ("VECTOR(FLOAT, 3)", "json"),
        ("INTERVAL", "other"),
    ],
)
def test_family(sql_type: str, expected: str) -> None:
    assert family(sql_type) == expected


@pytest.mark.parametrize(
    ("sql_type", "zoned"),
    [
        ("TIMESTAMP_LTZ", True),
        ("timestamp_tz(9)", True),
        ("TIMESTAMP WITH TIME ZONE", True),
        ("TIMESTAMP WITH LOCAL TIME ZONE", True),
        ("TIMESTAMP_NTZ", False),
        ("TIMESTAMP", False),
        ("DATETIME", False),
        ("DATE", False),
    ],
)
def test_is_zoned_timestamp(sql_type: str, zoned: bool) -> None:
    assert typefamilies.is_zoned_timestamp(sql_type) is zoned


def test_each_spelling_belongs_to_one_family() -> None:
    lists = [
        typefamilies.FIXED_TYPES, typefamilies.DECFLOAT_TYPES, typefamilies.FLOAT_TYPES,
        typefamilies.TEXT_TYPES, typefamilies.BINARY_TYPES, typefamilies.BOOLEAN_TYPES,
        typefamilies.DATE_TYPES, typefamilies.TIME_TYPES, typefamilies.TIMESTAMP_TYPES,
        typefamilies.JSON_TYPES,
    ]  # fmt: skip
    names = [name for types in lists for name in types]
    assert len(names) == len(set(names))
    assert all(base_type(name) == name for name in names)


def test_the_timestamp_kinds_and_json_kinds_make_up_their_family() -> None:
    assert set(typefamilies.TIMESTAMP_TYPES) == set(
        typefamilies.TIMESTAMP_NTZ_TYPES
        + typefamilies.TIMESTAMP_LTZ_TYPES
        + typefamilies.TIMESTAMP_TZ_TYPES
    )
    assert set(typefamilies.JSON_TYPES) == set(
        typefamilies.SEMI_STRUCTURED_TYPES + typefamilies.SPATIAL_TYPES + typefamilies.VECTOR_TYPES
    )


def test_typefamilies_is_ground() -> None:
    """It imports nothing from snowpg, so every layer may use it."""
    with open(typefamilies.__file__, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert [m for m in modules if m.split(".")[0] == "snowpg"] == []

"""Target DDL is composed with quoted identifiers and allow-listed types only."""

from __future__ import annotations

import pytest
from psycopg import sql

from snowpg.model import SourceColumn
from snowpg.plan import typemap
from snowpg.postgres import ddl

EVIL = 'x"; DROP TABLE y; --'


def text(stmt: sql.Composable) -> str:
    return stmt.as_string(None)


@pytest.mark.parametrize(
    ("stmt", "expected"),
    [
        (ddl.create_schema("Raw Data"), 'CREATE SCHEMA IF NOT EXISTS "Raw Data"'),
        (ddl.truncate_table("s", "t"), 'TRUNCATE TABLE "s"."t"'),
        (ddl.table_has_rows("s", "t"), 'SELECT EXISTS (SELECT 1 FROM "s"."t")'),
        (ddl.count_rows("s", "t"), 'SELECT count(*) FROM "s"."t"'),
        (ddl.drop_index("s", "t_idx"), 'DROP INDEX IF EXISTS "s"."t_idx"'),
        (ddl.copy_from_stdin("s", "t", ["a", "B c"]), 'COPY "s"."t" ("a", "B c") FROM STDIN (FORMAT csv)'),
        (ddl.copy_from_stdin("s", "t", ["a"], "binary"), 'COPY "s"."t" ("a") FROM STDIN (FORMAT binary)'),
        (ddl.copy_from_stdin("s", "t", ["a"], "text"), 'COPY "s"."t" ("a") FROM STDIN (FORMAT text)'),
        (ddl.truncate_table("s", EVIL), 'TRUNCATE TABLE "s"."x""; DROP TABLE y; --"'),
    ],
)  # fmt: skip
def test_statement_text(stmt: sql.Composable, expected: str) -> None:
    assert text(stmt) == expected


def test_create_table_with_not_null_and_primary_key() -> None:
    stmt = ddl.create_table(
        "public",
        "Claims",
        [("id", "bigint", False), ("Payer Name", "varchar(200)", True), ("doc", "jsonb", True)],
        ["id"],
    )
    assert text(stmt) == (
        'CREATE TABLE IF NOT EXISTS "public"."Claims" ("id" bigint NOT NULL, '
        '"Payer Name" varchar(200), "doc" jsonb, PRIMARY KEY ("id"))'
    )


def test_create_table_quotes_injection_looking_names() -> None:
    stmt = ddl.create_table("s", EVIL, [(EVIL, "text", True)], [EVIL])
    assert text(stmt) == (
        'CREATE TABLE IF NOT EXISTS "s"."x""; DROP TABLE y; --" '
        '("x""; DROP TABLE y; --" text, PRIMARY KEY ("x""; DROP TABLE y; --"))'
    )


@pytest.mark.parametrize(
    "pg_type",
    sorted(
        {typemap.pg_type_for(SourceColumn("c", t, precision=p, scale=s, length=n))
         for t in typemap.known_types() for p, s, n in [(None, None, None), (38, 0, 10), (10, 2, 5),
                                                         (4, 0, None), (9, 0, None), (18, 0, None)]}
        | {"numeric(38,0)", "character varying(12)", "timestamp without time zone",
           "timestamp with time zone", "time without time zone", "double precision"}
    ),
)  # fmt: skip
def test_every_typemap_spelling_is_allowed(pg_type: str) -> None:
    assert ddl.check_pg_type(pg_type) == pg_type


@pytest.mark.parametrize(
    "pg_type",
    ["text; DROP TABLE y", "int) ; --", "varchar(10) DEFAULT 1", "numeric(38,0", "TEXT", "",
     "bigint NOT NULL", "jsonb[]", "varchar(999999999)"],
)  # fmt: skip
def test_other_type_text_is_refused(pg_type: str) -> None:
    with pytest.raises(ValueError, match="refusing column type"):
        ddl.create_table("s", "t", [("a", pg_type, True)])


@pytest.mark.parametrize(
    "call",
    [
        lambda: ddl.copy_from_stdin("s", "t", ["a"], "csv) ; DROP TABLE y; --"),
        lambda: ddl.copy_from_stdin("s", "t", []),
        lambda: ddl.create_table("s", "t", []),
        lambda: ddl.create_table("s", "t", [("a", "text", True)], ["b"]),
        lambda: ddl.truncate_table("s", "x" * 64),
        lambda: ddl.truncate_table("", "t"),
    ],
)
def test_invalid_arguments_are_refused(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]

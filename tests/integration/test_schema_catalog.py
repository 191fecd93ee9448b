"""One statement describes a whole schema: tables, views, columns, keys, row counts."""

from __future__ import annotations

from typing import Any

import pytest

from snowpg.demo.servers import StandinServer
from snowpg.errors import SourceNotFound
from snowpg.snowflake import schema_catalog

pytestmark = pytest.mark.integration


def _make_tables(sf_conn: Any) -> None:
    cur = sf_conn.cursor()
    cur.execute("CREATE TABLE ORDERS (ID NUMBER(38,0) NOT NULL PRIMARY KEY, NOTE VARCHAR(20))")
    cur.execute(
        "CREATE TABLE LINES (A NUMBER(38,0) NOT NULL, B VARCHAR NOT NULL, QTY NUMBER(10,2),"
        " PRIMARY KEY (B, A))"
    )
    cur.execute("CREATE TABLE NOKEY (X DATE, Y TEXT)")
    cur.execute("INSERT INTO ORDERS VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    cur.execute("CREATE VIEW BIG_ORDERS AS SELECT ID FROM ORDERS WHERE ID > 1")


def test_one_statement_describes_every_table_and_view(
    fakesnow_server: Any, sf_conn: Any, sf_database: str
) -> None:
    if not isinstance(fakesnow_server, StandinServer):
        pytest.fail("this test reads the stand-in's query log (unset SNOWPG_TEST_SNOWFLAKE)")
    _make_tables(sf_conn)
    before = fakesnow_server.stats()["queries"]
    catalog = schema_catalog.describe_schema(sf_conn, sf_database, "PUBLIC")
    asked = fakesnow_server.queries(before)
    assert len(asked) == 1, asked
    assert "->>" in asked[0]

    assert catalog.names() == ["BIG_ORDERS", "LINES", "NOKEY", "ORDERS"]
    assert catalog.names(views=False) == ["LINES", "NOKEY", "ORDERS"]
    orders = catalog.find("orders")  # one match ignoring case
    assert orders.primary_key == ("ID",)
    assert [c.name for c in orders.columns] == ["ID", "NOTE"]
    assert orders.columns[0].nullable is False and orders.columns[1].length == 20
    assert orders.row_count == 3 and orders.kind == "BASE TABLE"
    assert catalog.find("LINES").primary_key == ("B", "A")  # key order, not column order
    assert catalog.find("NOKEY").primary_key == ()
    assert catalog.find("BIG_ORDERS").kind == "VIEW"
    with pytest.raises(SourceNotFound, match="MISSING"):
        catalog.find("MISSING")


def test_names_limit_the_statement_and_a_lower_case_schema_is_found(
    sf_conn: Any, sf_database: str
) -> None:
    _make_tables(sf_conn)
    catalog = schema_catalog.describe_schema(sf_conn, sf_database, "public", ["orders", "NOKEY"])
    assert catalog.schema == "PUBLIC"
    assert catalog.names() == ["NOKEY", "ORDERS"]


def test_a_table_of_a_missing_schema_is_named(sf_conn: Any, sf_database: str) -> None:
    # Snowflake refuses SHOW ... IN SCHEMA of a missing schema (SourceNotFound naming it);
    # fakesnow answers with no rows, and the table is then not found by name.
    try:
        catalog = schema_catalog.describe_schema(sf_conn, sf_database, "NOPE")
    except SourceNotFound as exc:
        assert f"{sf_database}.NOPE" in exc.message
        return
    assert catalog.tables == {}
    with pytest.raises(SourceNotFound, match=f"{sf_database}.NOPE.T"):
        catalog.find("T")

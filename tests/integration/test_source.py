"""The Snowflake side against the fakesnow server: connecting, the catalog, reading Arrow, errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pytest
from pydantic import SecretStr

from snowpg.demo.servers import FakesnowServer, free_port
from snowpg.errors import ConfigError, SourceError, SourceUnavailable
from snowpg.model import ChunkRange
from snowpg.snowflake import reader
from snowpg.snowflake.catalog import check_columns_exist, describe_table, list_tables
from snowpg.snowflake.session import connect
from snowpg.snowflake.statements import count_sql, select_chunk_sql

pytestmark = pytest.mark.integration


@dataclass
class StandInSettings:
    """The attributes of ``snowpg.config.connections.SnowflakeSettings`` that connect() reads."""

    host: str | None
    port: int | None
    account: str = "fakesnow"
    user: str = "snowpg"
    password: SecretStr | None = field(default_factory=lambda: SecretStr("fakesnow-password"))
    rsa_key: str | None = None
    rsa_key_passphrase: SecretStr | None = None
    warehouse: str | None = "DEMO_WH"
    role: str | None = None
    protocol: str | None = "http"

    def private_key_der(self) -> bytes | None:
        return None


@pytest.fixture
def settings(fakesnow_server: FakesnowServer) -> StandInSettings:
    return StandInSettings(host=fakesnow_server.host, port=fakesnow_server.port)


@pytest.fixture
def snow(settings: StandInSettings, sf_database: str) -> Iterator[Any]:
    """A connection made by snowpg's own connect()."""
    conn = connect(settings, database=sf_database, schema="PUBLIC")
    yield conn
    conn.close()


def _exec(conn: Any, *statements: str) -> None:
    cur = conn.cursor()
    for s in statements:
        cur.execute(s)
    cur.close()


@pytest.fixture
def payers(snow: Any, sf_database: str) -> str:
    _exec(
        snow,
        'create table "DimPayer" ("Payer Id" varchar not null, "AMOUNT" number(12,2),'
        ' "Rate %" float, created date, seen timestamp_ntz, "Note" varchar(20), primary key ("Payer Id"))',
        "insert into \"DimPayer\" select iff(seq4() % 2 = 0, 'payer ', 'Payer ') || seq4(),"
        " seq4() / 4, seq4() / 3, dateadd(day, seq4(), '2020-01-01'::date),"
        " '2021-01-01 00:00:00'::timestamp_ntz, 'n' from table(generator(rowcount => 500))",
    )
    return "DimPayer"


def test_connect_sets_session_and_reads(snow: Any) -> None:
    assert reader.run_scalar(snow, "select 40 + 2") == 42
    assert reader.run_scalar(snow, "select current_database()") is not None


def test_connect_to_nothing_is_transient(settings: StandInSettings) -> None:
    settings.port = free_port()  # nothing listens there
    with pytest.raises(SourceUnavailable) as info:
        connect(settings)
    assert "connecting to Snowflake" in str(info.value)
    assert "fakesnow-password" not in str(info.value)


def test_describe_table(snow: Any, sf_database: str, payers: str) -> None:
    t = describe_table(snow, sf_database, "PUBLIC", payers)
    assert (t.database, t.schema, t.name) == (sf_database, "PUBLIC", "DimPayer")
    assert [c.name for c in t.columns] == [
        "Payer Id",
        "AMOUNT",
        "Rate %",
        "CREATED",
        "SEEN",
        "Note",
    ]
    assert [c.position for c in t.columns] == [1, 2, 3, 4, 5, 6]
    by = {c.name: c for c in t.columns}
    assert by["AMOUNT"].sql_type == "NUMBER(12,2)"
    assert by["Payer Id"].sql_type == "VARCHAR" and not by["Payer Id"].nullable
    assert by["Note"].length == 20 and by["Note"].nullable
    assert by["CREATED"].data_type == "DATE"
    assert by["SEEN"].data_type == "TIMESTAMP_NTZ"
    assert by["Rate %"].data_type == "FLOAT"
    assert t.primary_key == ("Payer Id",)
    assert t.row_count == 500


def test_describe_table_composite_key_order(snow: Any, sf_database: str) -> None:
    _exec(snow, 'create table TWO (a int, "b B" varchar, c int, primary key ("b B", a))')
    t = describe_table(snow, sf_database, "PUBLIC", "TWO")
    assert t.primary_key == ("b B", "A")
    assert describe_table(snow, sf_database, "PUBLIC", "TWO").row_count == 0


def test_describe_table_matches_case_insensitively_when_unambiguous(
    snow: Any, sf_database: str, payers: str
) -> None:
    _exec(snow, "create table plain_name (x int)")
    t = describe_table(snow, sf_database, "public", "plain_name")
    assert (t.schema, t.name) == ("PUBLIC", "PLAIN_NAME")


def test_unknown_table_names_the_config_fields(snow: Any, sf_database: str) -> None:
    with pytest.raises(SourceError) as info:
        describe_table(snow, sf_database, "PUBLIC", "NO_SUCH_TABLE")
    text = str(info.value)
    assert f"table {sf_database}.PUBLIC.NO_SUCH_TABLE not found in Snowflake" in text
    assert "source_sf_database" in text and "source_sf_schema" in text
    assert not isinstance(info.value, SourceUnavailable)


def test_unknown_database_is_a_not_found_error(snow: Any) -> None:
    with pytest.raises(SourceError) as info:
        describe_table(snow, "NO_SUCH_DB_X", "PUBLIC", "T")
    assert "NO_SUCH_DB_X.PUBLIC.T not found" in str(info.value)
    assert not isinstance(info.value, SourceUnavailable)


def test_list_tables(snow: Any, sf_database: str, payers: str) -> None:
    _exec(snow, "create table OTHER (x int)")
    assert list_tables(snow, sf_database, "PUBLIC") == ["DimPayer", "OTHER"]


def test_check_columns_exist(snow: Any, sf_database: str, payers: str) -> None:
    t = describe_table(snow, sf_database, "PUBLIC", payers)
    check_columns_exist(t, ["Payer Id", "AMOUNT"], "chunking_columns of table DimPayer")
    with pytest.raises(ConfigError) as info:
        check_columns_exist(t, ["amount"], "chunking_columns of table DimPayer")
    err = info.value
    assert "amount" in str(err) and "chunking_columns of table DimPayer" in str(err)
    assert "did you mean AMOUNT" in str(err)
    assert err.column == "amount" and err.field == "chunking_columns of table DimPayer"


def test_read_chunk_yields_arrow_matching_the_count(
    snow: Any, sf_database: str, payers: str
) -> None:
    t = describe_table(snow, sf_database, "PUBLIC", payers)
    r = ChunkRange(("Payer Id",), ("VARCHAR",), lower=("Payer 2",), upper=("payer 4",))
    source_filter = '"Payer Id" LIKE \'%1%\' AND "Rate %" >= 0'
    query, params = select_chunk_sql(t, ["Payer Id", "AMOUNT", "Rate %"], source_filter, r)
    tables = list(reader.read_chunk(snow, query, params))
    assert tables and all(isinstance(b, pa.Table) for b in tables)
    assert tables[0].column_names == ["Payer Id", "AMOUNT", "Rate %"]
    got = sum(b.num_rows for b in tables)
    expected = reader.run_scalar(snow, *count_sql(t, source_filter, r))
    ids = [v for b in tables for v in b.column("Payer Id").to_pylist()]
    assert got == expected == len(ids) > 0
    assert all("1" in v and "Payer 2" <= v < "payer 4" for v in ids)


def test_percent_in_filter_without_parameters(snow: Any, sf_database: str, payers: str) -> None:
    t = describe_table(snow, sf_database, "PUBLIC", payers)
    query, params = count_sql(t, "\"Payer Id\" LIKE 'payer%'")
    assert params == {}
    assert reader.run_scalar(snow, query, params) == 250


def test_read_chunk_of_empty_result(snow: Any, sf_database: str, payers: str) -> None:
    t = describe_table(snow, sf_database, "PUBLIC", payers)
    query, params = select_chunk_sql(t, ["Payer Id"], "1 = 0", ChunkRange())
    assert sum(b.num_rows for b in reader.read_chunk(snow, query, params)) == 0


class _CursorSpy:
    """Wraps a real connection and remembers the cursors it hands out."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.cursors: list[Any] = []

    def cursor(self) -> Any:
        cur = self.conn.cursor()
        self.cursors.append(cur)
        return cur


def test_read_chunk_closes_cursor_when_abandoned(snow: Any, sf_database: str, payers: str) -> None:
    spy = _CursorSpy(snow)
    t = describe_table(snow, sf_database, "PUBLIC", payers)
    gen = reader.read_chunk(spy, *select_chunk_sql(t, ["Payer Id"], None, ChunkRange()))
    next(gen)
    assert not spy.cursors[0].is_closed()
    gen.close()
    assert spy.cursors[0].is_closed()


def test_bad_sql_is_terminal_source_error(snow: Any) -> None:
    with pytest.raises(SourceError) as info:
        list(reader.read_chunk(snow, 'SELECT "NOPE" FROM NO_SUCH_TABLE', {}))
    assert not isinstance(info.value, SourceUnavailable)
    assert "NO_SUCH_TABLE" in str(info.value)
    assert "\n" not in str(info.value)

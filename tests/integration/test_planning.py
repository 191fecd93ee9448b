"""Chunk planning against fakesnow: the chunks of every table partition its rows exactly."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from snowpg.demo.servers import StandinServer
from snowpg.errors import ConfigError
from snowpg.model import Chunk, ChunkRange, SourceTable
from snowpg.plan import boundaries
from snowpg.plan.boundaries import choose_chunking_columns, plan_chunks
from snowpg.snowflake import reader
from snowpg.snowflake.catalog import describe_table
from snowpg.snowflake.statements import (
    chunk_predicate,
    count_sql,
    select_chunk_sql,
    table_ref,
    where_clause,
)
from tests.fixtures.migration import chunk_rows, count_rows, make_config, run_cli, write_config

pytestmark = pytest.mark.integration


def _make(conn: Any, db: str, ddl: str, insert: str, name: str) -> SourceTable:
    cur = conn.cursor()
    cur.execute(ddl)
    cur.execute(insert)
    cur.close()
    return describe_table(conn, db, "PUBLIC", name)


def assert_partition(
    conn: Any, table: SourceTable, chunks: Sequence[Chunk], source_filter: str | None = None
) -> list[int]:
    """Every row under the filter satisfies exactly one chunk predicate; returns chunk counts."""
    total = reader.run_scalar(conn, *count_sql(table, source_filter))
    counts = [reader.run_scalar(conn, *count_sql(table, source_filter, c.range)) for c in chunks]
    assert sum(counts) == total
    # One query over all predicates: no row may be in zero or in two chunks.
    terms, params = [], {}
    for c in chunks:
        pred, p = chunk_predicate(c.range, prefix=f"c{c.chunk_id}_")
        terms.append(f"CASE WHEN {pred} THEN 1 ELSE 0 END")
        params.update(p)
    sql = f"SELECT COUNT(*) FROM {table_ref(table)} {where_clause(source_filter, ' + '.join(terms) + ' <> 1')}"
    assert reader.run_scalar(conn, sql, params) == 0
    assert [c.chunk_id for c in chunks] == list(range(1, len(chunks) + 1))
    return counts


def test_int_primary_key_10k_rows(sf_conn: Any, sf_database: str) -> None:
    t = _make(
        sf_conn,
        sf_database,
        "create table INTS (id int primary key, v varchar)",
        "insert into INTS select seq4() * 3 - 7000, 'v' || seq4() from table(generator(rowcount => 10000))",
        "INTS",
    )
    cols, method = choose_chunking_columns(t, None, conn=sf_conn)
    assert cols == ("ID",) and method == "range:ID (primary key)"
    chunks, how = plan_chunks(sf_conn, t, cols, None, 1000)
    assert how == "range:ID"
    assert len(chunks) == 10
    assert chunks[0].range.lower is None and chunks[-1].range.upper is None
    counts = assert_partition(sf_conn, t, chunks)
    # ids fill a third of their range, so the cuts come from a sample: near, not exactly, even.
    assert all(700 <= n <= 1300 for n in counts), counts
    assert sum(c.estimated_rows for c in chunks) == 10000
    # Reading every chunk returns each id exactly once.
    seen: list[int] = []
    for c, expected in zip(chunks, counts, strict=True):
        got = 0
        for batch in reader.read_chunk(sf_conn, *select_chunk_sql(t, ["ID"], None, c.range)):
            got += batch.num_rows
            seen.extend(batch.column("ID").to_pylist())
        assert got == expected
    assert len(seen) == len(set(seen)) == 10000


def test_varchar_key_with_spaces_and_mixed_case(sf_conn: Any, sf_database: str) -> None:
    t = _make(
        sf_conn,
        sf_database,
        'create table "Payers" ("Payer Id" varchar primary key, amount number(12,2))',
        "insert into \"Payers\" select iff(seq4() % 3 = 0, 'payer ', iff(seq4() % 3 = 1, 'Payer ', 'O''Brien %')) || seq4(),"
        " seq4() / 7 from table(generator(rowcount => 2000))",
        "Payers",
    )
    cols, _ = choose_chunking_columns(t, None, conn=sf_conn)
    assert cols == ("Payer Id",)
    chunks, _ = plan_chunks(sf_conn, t, cols, None, 300)
    assert 5 <= len(chunks) <= 7
    assert all(c.range.types == ("VARCHAR",) for c in chunks)
    assert_partition(sf_conn, t, chunks)


def test_source_filter_with_percent(sf_conn: Any, sf_database: str) -> None:
    t = _make(
        sf_conn,
        sf_database,
        'create table "Payers" ("Payer Id" varchar primary key, amount number(12,2))',
        "insert into \"Payers\" select iff(seq4() % 2 = 0, 'payer ', 'Payer ') || seq4(), seq4() / 7"
        " from table(generator(rowcount => 2000))",
        "Payers",
    )
    source_filter = "\"Payer Id\" LIKE 'payer%' AND amount >= 10"
    chunks, _ = plan_chunks(sf_conn, t, ("Payer Id",), source_filter, 200)
    counts = assert_partition(sf_conn, t, chunks, source_filter)
    assert sum(counts) == sum(c.estimated_rows for c in chunks) == 965
    assert len(chunks) == 5


def test_two_column_key(sf_conn: Any, sf_database: str) -> None:
    t = _make(
        sf_conn,
        sf_database,
        "create table TWO (region varchar, n int, amount number(38,4), primary key (region, n))",
        "insert into TWO select iff(seq4() % 3 = 0, 'EU', iff(seq4() % 3 = 1, 'US', 'APAC')),"
        " seq4() % 1000, seq4() / 13 from table(generator(rowcount => 3000))",
        "TWO",
    )
    cols, _ = choose_chunking_columns(t, None, conn=sf_conn)
    assert cols == ("REGION", "N")
    chunks, _ = plan_chunks(sf_conn, t, cols, None, 500)
    assert len(chunks) == 6
    # Boundaries fall inside one region, so the second column matters.
    assert any(c.range.lower is not None and c.range.lower[1] != "0" for c in chunks)
    counts = assert_partition(sf_conn, t, chunks)
    assert all(300 <= n <= 700 for n in counts), counts


def test_date_key_with_duplicates_and_nulls(sf_conn: Any, sf_database: str) -> None:
    t = _make(
        sf_conn,
        sf_database,
        "create table EVENTS (d date, x int)",
        "insert into EVENTS select iff(seq4() % 17 = 0, null, dateadd(day, seq4() % 40, '2020-01-01'::date)),"
        " seq4() from table(generator(rowcount => 2000))",
        "EVENTS",
    )
    cols, method = choose_chunking_columns(t, ["D"], conn=sf_conn)
    assert method == "range:D (chunking_columns)"
    chunks, _ = plan_chunks(sf_conn, t, cols, None, 100)
    nulls = [c for c in chunks if c.range.nulls]
    assert len(nulls) == 1 and nulls[0] is chunks[-1] and nulls[0].estimated_rows == 118
    # 40 distinct dates cannot make 19 distinct buckets of 100: duplicates merged, none empty.
    assert len(chunks) <= 20
    bounds = [c.range.lower for c in chunks if c.range.lower is not None]
    assert len(bounds) == len(set(bounds))
    counts = assert_partition(sf_conn, t, chunks)
    assert counts[-1] == 118 and all(n > 0 for n in counts)


def test_timestamp_keys_round_trip(sf_conn: Any, sf_database: str) -> None:
    t = _make(
        sf_conn,
        sf_database,
        "create table TS (ts timestamp_ntz(9), tz timestamp_tz, n number(20,6))",
        "insert into TS select dateadd(microsecond, seq4() * 1234567, '2021-03-04 05:06:07.123456'::timestamp_ntz),"
        " dateadd(millisecond, seq4() * 777, '2021-03-04 05:06:07.5 +02:00'::timestamp_tz),"
        " seq4() / 3 from table(generator(rowcount => 1000))",
        "TS",
    )
    for key in ("TS", "TZ", "N"):
        chunks, _ = plan_chunks(sf_conn, t, [key], None, 150)
        assert len(chunks) == 7, key
        assert assert_partition(sf_conn, t, chunks) == [c.estimated_rows for c in chunks], key


def test_no_primary_key_uses_most_distinct_column(sf_conn: Any, sf_database: str) -> None:
    t = _make(
        sf_conn,
        sf_database,
        "create table LOOSE (flag boolean, small int, f float, code varchar, payload variant)",
        "insert into LOOSE select seq4() % 2 = 0, seq4() % 3, seq4() / 7, 'c' || seq4(), null"
        " from table(generator(rowcount => 1200))",
        "LOOSE",
    )
    cols, method = choose_chunking_columns(t, None, conn=sf_conn)
    assert cols == ("CODE",)
    assert method == "range:CODE (no primary key; most distinct column of a sample)"
    chunks, _ = plan_chunks(sf_conn, t, cols, None, 400)
    assert len(chunks) == 3
    assert_partition(sf_conn, t, chunks)


def test_no_usable_key_is_one_whole_table_chunk(sf_conn: Any, sf_database: str) -> None:
    t = _make(
        sf_conn,
        sf_database,
        "create table BLOBS (f float, flag boolean, same varchar)",
        "insert into BLOBS select seq4() / 7, true, 'x' from table(generator(rowcount => 50))",
        "BLOBS",
    )
    cols, method = choose_chunking_columns(t, None, conn=sf_conn)
    assert (cols, method) == ((), "whole-table")
    chunks, how = plan_chunks(sf_conn, t, cols, None, 10)
    assert how == "whole-table" and len(chunks) == 1
    assert chunks[0].range.columns == () and chunks[0].estimated_rows == 50
    assert assert_partition(sf_conn, t, chunks) == [50]


def test_empty_and_small_tables(sf_conn: Any, sf_database: str) -> None:
    t = _make(sf_conn, sf_database, "create table E (id int primary key)", "select 1", "E")
    assert t.row_count == 0 and not t.column("ID").nullable  # type: ignore[union-attr]
    # The catalog says it fits one chunk: one open range over the NOT NULL key, no query.
    chunks, how = plan_chunks(sf_conn, t, ["ID"], None, 1000)
    assert len(chunks) == 1 and chunks[0].range == ChunkRange(("ID",), ("NUMBER(38,0)",))
    assert how == "range:ID"
    cur = sf_conn.cursor()
    cur.execute("insert into E select seq4() from table(generator(rowcount => 20))")
    # The open range holds rows the (stale) catalog count did not know about.
    chunks, how = plan_chunks(sf_conn, t, ["ID"], None, 1000)
    assert how == "range:ID" and len(chunks) == 1 and chunks[0].range.columns == ("ID",)
    assert assert_partition(sf_conn, t, chunks) == [20]
    # Counted (a filter is given): an empty table is one whole-table chunk.
    empty = _make(sf_conn, sf_database, "create table E2 (id int)", "select 1", "E2")
    chunks, how = plan_chunks(sf_conn, empty, ["ID"], "ID > 0", 1000)
    assert how == "whole-table" and chunks[0].range == ChunkRange()


def test_configured_columns_are_checked(sf_conn: Any, sf_database: str) -> None:
    t = _make(sf_conn, sf_database, "create table C (id int, doc variant)", "select 1", "C")
    with pytest.raises(ConfigError) as info:
        choose_chunking_columns(t, ["NOPE"])
    assert "NOPE" in str(info.value) and "chunking_columns of table C" in str(info.value)
    with pytest.raises(ConfigError) as info:
        choose_chunking_columns(t, ["DOC"])
    assert "DOC" in str(info.value) and "VARIANT" in str(info.value)
    with pytest.raises(ConfigError):
        plan_chunks(sf_conn, t, ["ID"], None, 0)


# --- what planning asks Snowflake, from the stand-in's query log ------------------------------

_SORTS = re.compile(r"\bNTILE\b|\bOVER\s*\(|APPROX_COUNT_DISTINCT|APPROX_PERCENTILE", re.I)


def _about(queries: list[str], table: str) -> list[str]:
    """Queries that read ``table`` itself (not the catalog, where names travel as values)."""
    ref = f'."PUBLIC"."{table}"'
    return [
        q
        for q in queries
        if ref in q and "INFORMATION_SCHEMA" not in q.upper() and not q.upper().startswith("SHOW")
    ]


def test_planning_never_sorts_a_table_and_small_tables_cost_no_query(
    fakesnow_server: Any,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    if not isinstance(fakesnow_server, StandinServer):
        pytest.fail("this test reads the stand-in's query log (unset SNOWPG_TEST_SNOWFLAKE)")
    cur = sf_conn.cursor()
    cur.execute("create table SMALL (id int primary key, v varchar(20))")
    cur.execute(
        "insert into SMALL select seq4(), 'v' || seq4() from table(generator(rowcount => 1000))"
    )
    # No primary key (the common case in Snowflake): the key comes from the catalog and a sample.
    cur.execute("create table KEYLESS (flag int, code varchar not null, id int, ts timestamp_ntz)")
    cur.execute(
        "insert into KEYLESS select seq4() % 3, 'c' || (seq4() * 7919 % 40000), seq4(),"
        " dateadd(second, seq4(), '2020-01-01'::timestamp_ntz) from table(generator(rowcount => 40000))"
    )
    config = make_config(
        sf_database,
        pg_database,
        [
            {"source": "SMALL"},
            {"source": "KEYLESS", "max_chunk_mb": 0.25},
        ],
        batch_size=None,
    )
    path = write_config(tmp_path / "c.json", config)
    since = fakesnow_server.stats()["queries"]
    plan = run_cli("plan", "--config", str(path), env=server_env)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    asked = fakesnow_server.queries(since)
    assert _about(asked, "SMALL") == [], _about(asked, "SMALL")
    keyless = _about(asked, "KEYLESS")
    assert 1 <= len(keyless) <= 4, keyless  # width sample, distinct sample, statistics, key sample
    for q in asked:
        assert not _SORTS.search(q), q
        if "ORDER BY" in q.upper() and "INFORMATION_SCHEMA" not in q.upper():
            assert " ROWS) ORDER BY " in q, q  # only sampled rows are sorted
    assert "range:CODE (no primary key; most distinct column of a sample)" in plan.stdout

    result = run_cli("migrate", "--config", str(path), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    chunks = chunk_rows(pg_dsn)
    by_table = {name: [c for c in chunks if c[0] == name] for name in ("SMALL", "KEYLESS")}
    assert len(by_table["SMALL"]) == 1
    assert len(by_table["KEYLESS"]) >= 5  # 40,000 rows of ~45 bytes in 0.25 MiB chunks
    assert count_rows(pg_dsn, "public", "small") == (1000, 1000)
    assert count_rows(pg_dsn, "public", "keyless") == (40000, 40000)
    assert sum(c[3] for c in by_table["KEYLESS"]) == 40000


def test_zoned_timestamp_key_compares_raw_and_means_the_same_rows(
    sf_conn: Any, sf_database: str
) -> None:
    # Wall-clock order and instant order differ: even rows are ten hours ahead of their neighbours.
    t = _make(
        sf_conn,
        sf_database,
        "create table TZT (id int, tz timestamp_tz, ltz timestamp_ltz)",
        "insert into TZT select seq4(), cast(to_varchar(dateadd(minute, seq4(),"
        " '2021-01-01'::timestamp_ntz), 'YYYY-MM-DD HH24:MI:SS') || iff(seq4() % 2 = 0, '+05:00',"
        " '-05:00') as timestamp_tz), dateadd(minute, seq4() * 7, '2021-03-28 00:00:00'::timestamp_ltz)"
        " from table(generator(rowcount => 3000))",
        "TZT",
    )
    out_of_order = (
        f"SELECT COUNT(*) FROM {table_ref(t)} a JOIN {table_ref(t)} b ON b.id = a.id + 1"
        " WHERE b.tz < a.tz"
    )
    # Each odd id (at -05:00) but the last is ten hours after the next id: the offsets took effect.
    assert reader.run_scalar(sf_conn, out_of_order) == 1499
    for key in ("TZ", "LTZ"):
        chunks, _ = plan_chunks(sf_conn, t, [key], None, 500)
        assert len(chunks) >= 5, key
        counts = assert_partition(sf_conn, t, chunks)
        assert sum(counts) == 3000
        for c, n in zip(chunks, counts, strict=True):
            pred, params = chunk_predicate(c.range)
            assert "CONVERT_TIMEZONE" not in pred
            # The old form: the key converted to UTC wall-clock time, compared with NTZ bounds.
            old = pred.replace(
                f'"{key}" ', f"CAST(CONVERT_TIMEZONE('UTC', \"{key}\") AS TIMESTAMP_NTZ) "
            )
            old = old.replace(f"AS {c.range.types[0]})", "AS TIMESTAMP_NTZ)")
            query = f"SELECT COUNT(*) FROM {table_ref(t)} WHERE {old}"
            assert reader.run_scalar(sf_conn, query, params) == n, (key, old)


def test_block_sample_and_its_fallback_on_a_big_table(
    fakesnow_server: Any, sf_conn: Any, sf_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not isinstance(fakesnow_server, StandinServer):
        pytest.fail("this test reads the stand-in's query log (unset SNOWPG_TEST_SNOWFLAKE)")
    t = _make(
        sf_conn,
        sf_database,
        "create table BIGTEXT (code varchar primary key, n int)",
        "insert into BIGTEXT select 'k' || (seq4() * 7919 % 60000), seq4()"
        " from table(generator(rowcount => 60000))",
        "BIGTEXT",
    )
    monkeypatch.setattr(boundaries, "BLOCK_SAMPLE_FROM_ROWS", 10_000)
    # 0: the floor of 0.001 %, which picks none of the ~30 vectors of 2,048 rows but 1 in ~3,000 runs.
    for aim, falls_back in ((15_000, False), (0, True)):
        monkeypatch.setattr(boundaries, "BLOCK_SAMPLE_ROWS", aim)
        since = fakesnow_server.stats()["queries"]
        chunks, _ = plan_chunks(sf_conn, t, ["CODE"], None, 6_000)
        samples = [q for q in fakesnow_server.queries(since) if " ROWS) ORDER BY " in q]
        assert "SAMPLE SYSTEM (" in samples[0]
        assert len(samples) == (2 if falls_back else 1), samples
        if falls_back:
            assert "SAMPLE SYSTEM" not in samples[1]
        assert len(chunks) >= 5
        assert sum(assert_partition(sf_conn, t, chunks)) == 60000

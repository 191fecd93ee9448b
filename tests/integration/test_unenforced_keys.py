"""Source keys Snowflake declares but does not enforce: duplicates migrate and are reported.

fakesnow (DuckDB) enforces a PRIMARY KEY it is given, so a source table here is created without
one and the stand-in declares its key in the catalog only (``primary_keys``: its SHOW PRIMARY KEYS
answer), which is how the service keeps a key it never checks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from snowpg.aws.handler import lambda_handler
from snowpg.demo.servers import StandinServer
from tests.aws.harness import FakeContext
from tests.fixtures.migration import make_config, run_cli, spawn_cli, write_config

pytestmark = pytest.mark.integration


@pytest.fixture
def standin(fakesnow_server: Any) -> Iterator[StandinServer]:
    if not isinstance(fakesnow_server, StandinServer):
        pytest.fail("these tests need the stand-in (unset SNOWPG_TEST_SNOWFLAKE)")
    fakesnow_server.control(reset=True)
    yield fakesnow_server
    fakesnow_server.control(reset=True)


def _execute(sf_conn: Any, *statements: str) -> None:
    cur = sf_conn.cursor()
    for s in statements:
        cur.execute(s)
    cur.close()


def _source(sf_conn: Any, table: str, cols: str) -> list[tuple[Any, ...]]:
    cur = sf_conn.cursor()
    cur.execute(f"SELECT {cols} FROM {table}")
    rows = sorted(tuple(str(v) for v in r) for r in cur.fetchall())
    cur.close()
    return rows


def _target(dsn: str, table: str, cols: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"SELECT {cols} FROM public.{table}").fetchall()
    return sorted(tuple(str(v) for v in r) for r in rows)


def _indexes(dsn: str, table: str) -> dict[str, tuple[bool, bool, str]]:
    """index name -> (primary, unique, definition)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname, i.indisprimary, i.indisunique, pg_get_indexdef(i.indexrelid)"
            " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s::regclass",
            (f"public.{table}",),
        ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _metadata(dsn: str, table: str) -> list[dict[str, Any]]:
    """The table's status metadata, one per run, oldest first."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT t.metadata FROM migration_status.migration_table_status t"
            " JOIN migration_status.migration_runs r USING (run_id)"
            " WHERE t.source_table = %s ORDER BY r.started_at",
            (table,),
        ).fetchall()
    return [r[0] for r in rows]


def test_duplicate_primary_key_values_load_every_row_and_are_reported(
    standin: StandinServer,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cols = "ID NUMBER(38,0), NAME VARCHAR, N INT"
    fill = "SELECT seq4(), 'row ' || seq4(), mod(seq4(), 7) FROM TABLE(GENERATOR(ROWCOUNT => 2000))"
    _execute(
        sf_conn,
        f"CREATE TABLE EVENTS ({cols})",
        f"INSERT INTO EVENTS {fill}",
        # 7 three more times, 42 once more: two duplicated values, four extra rows
        "INSERT INTO EVENTS VALUES (7, 'again', 1), (7, 'again', 2), (7, 'third', 3),"
        " (42, 'twin', 4)",
        f"CREATE TABLE CLEAN ({cols})",
        f"INSERT INTO CLEAN {fill}",
    )
    standin.control(primary_keys={"EVENTS": ["ID"], "CLEAN": ["ID"]})
    cfg = write_config(
        tmp_path / "config.json",
        make_config(
            sf_database,
            pg_database,
            [{"source": "EVENTS"}, {"source": "CLEAN"}],
            parallel_threads=2,
            batch_size=300,
        ),
    )
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out

    # Never lose a row: the target holds exactly the source's rows, duplicates included.
    assert _target(pg_dsn, "events", "id, name, n") == _source(sf_conn, "EVENTS", "ID, NAME, N")
    assert len(_target(pg_dsn, "events", "id")) == 2004
    assert _target(pg_dsn, "clean", "id, name, n") == _source(sf_conn, "CLEAN", "ID, NAME, N")

    # The clean table gets its primary key; the other a plain index on the key instead.
    clean = _indexes(pg_dsn, "clean")
    assert [v[0] for v in clean.values()] == [True] and "(id)" in next(iter(clean.values()))[2]
    events = _indexes(pg_dsn, "events")
    assert events == {
        "events_snowpg_key": (
            False,
            False,
            "CREATE INDEX events_snowpg_key ON public.events USING btree (id)",
        )
    }

    (meta,) = _metadata(pg_dsn, "EVENTS")
    assert meta["duplicate_keys"] == {
        "columns": ["id"],
        "key_values": 2,
        "extra_rows": 4,
        "null_key_rows": 0,
        "samples": [["7"], ["42"]],
        "index": "events_snowpg_key",
    }
    assert meta["deferred_key"]["done"] is True
    (clean_meta,) = _metadata(pg_dsn, "CLEAN")
    assert "duplicate_keys" not in clean_meta and clean_meta["deferred_key"]["done"] is True

    # Reported by name and count: the run summary, the log, `snowpg status` (text and JSON).
    assert "EVENTS: duplicate source key (id): 2 key value(s) held by more than one row" in out
    assert "(4 extra row(s)), e.g. (7), (42)" in out
    assert "CLEAN: duplicate" not in out
    status = run_cli("status", "--config", str(cfg), env=server_env)
    assert status.returncode == 0, status.stderr
    assert "keys EVENTS: duplicate source key (id)" in " ".join(status.stdout.split())
    as_json = run_cli("status", "--config", str(cfg), "--json", env=server_env)
    (report,) = json.loads(as_json.stdout)
    tables = {t["source_table"]: t for t in report["tables"]}
    assert tables["EVENTS"]["duplicate_keys"]["extra_rows"] == 4
    assert tables["CLEAN"]["duplicate_keys"] is None


def test_existing_target_with_a_primary_key_names_the_key_and_the_fix(
    standin: StandinServer,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    _execute(
        sf_conn,
        "CREATE TABLE PAYERS (ID NUMBER(38,0), NAME VARCHAR)",
        "INSERT INTO PAYERS VALUES (1, 'a'), (2, 'b'), (2, 'b again'), (3, 'c')",
    )
    standin.control(primary_keys={"PAYERS": ["ID"]})
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE public.payers (id numeric PRIMARY KEY, name text)")
    cfg = write_config(
        tmp_path / "config.json",
        make_config(sf_database, pg_database, [{"source": "PAYERS"}]),
    )
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    out = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, out
    assert "Key (id)=(2) already exists" in out
    assert "Snowflake does not enforce PRIMARY KEY or UNIQUE" in out
    assert "(payers_pkey on public.payers)" in out
    assert "uniqueness_columns" in out


def test_upserted_table_keeps_one_row_per_key_by_watermark_and_counts_the_rest(
    standin: StandinServer,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    _execute(
        sf_conn,
        "CREATE TABLE ITEMS (ID NUMBER(38,0), VAL VARCHAR, UPDATED_AT TIMESTAMP_NTZ)",
        "INSERT INTO ITEMS SELECT seq4(), 'v' || seq4(), "
        "dateadd(second, seq4(), '2024-01-01 00:00:00'::timestamp_ntz) "
        "FROM TABLE(GENERATOR(ROWCOUNT => 500))",
        # the first load: key 5 twice more, the newest of the three wins
        "INSERT INTO ITEMS VALUES (5, 'old 5', '2023-01-01 00:00:00'),"
        " (5, 'newest 5', '2024-06-01 00:00:00')",
    )
    standin.control(primary_keys={"ITEMS": ["ID"]})
    table = {"source": "ITEMS", "source_watermark": "UPDATED_AT", "uniqueness_columns": ["ID"]}
    cfg = write_config(
        tmp_path / "config.json",
        make_config(sf_database, pg_database, [table], batch_size=200),
    )
    first = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert first.returncode == 0, first.stdout + first.stderr
    rows = dict(_target(pg_dsn, "items", "id, val"))
    assert len(rows) == 500 and rows["5"] == "newest 5"
    assert [i[0] for i in _indexes(pg_dsn, "items").values()] == [True]  # the primary key
    (meta,) = _metadata(pg_dsn, "ITEMS")
    assert meta["deduplicated"]["dropped_rows"] == 2
    assert meta["deduplicated"]["key_values"] == 1
    assert "duplicate_keys" not in meta
    assert "duplicate upsert key (id): 2 row(s) dropped" in first.stdout + first.stderr

    # A window holding one key three times (a new key) and an old key twice: the greatest
    # watermark of each is kept, ties broken by the row's text.
    _execute(
        sf_conn,
        "INSERT INTO ITEMS VALUES (9000, 'first', '2025-01-01 00:00:00'),"
        " (9000, 'last', '2025-01-03 00:00:00'), (9000, 'middle', '2025-01-02 00:00:00'),"
        " (10, 'tie a', '2025-02-01 00:00:00'), (10, 'tie b', '2025-02-01 00:00:00')",
    )
    sync = run_cli("sync", "--config", str(cfg), env=server_env)
    out = sync.stdout + sync.stderr
    assert sync.returncode == 0, out
    rows = dict(_target(pg_dsn, "items", "id, val"))
    assert len(rows) == 501
    assert rows["9000"] == "last" and rows["10"] == "tie b" and rows["5"] == "newest 5"
    second = _metadata(pg_dsn, "ITEMS")[-1]
    assert second["deduplicated"] == {
        "columns": ["id"],
        "key_values": 2,
        "dropped_rows": 3,
        "rule": 'greatest "updated_at" kept, ties by row text',
    }


def _wait(predicate: Any, proc: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        assert proc.poll() is None, f"snowpg exited before {what}"
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_between_the_last_chunk_and_the_key_is_finished_by_the_next_run(
    standin: StandinServer,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """Every chunk committed, the process killed while adding the key: the table stays open,
    and the next run adds the key (here: finds the duplicates) without copying anything again."""
    _execute(
        sf_conn,
        "CREATE TABLE EVENTS (ID NUMBER(38,0), NAME VARCHAR)",
        "INSERT INTO EVENTS SELECT seq4(), 'row ' || seq4() FROM TABLE(GENERATOR(ROWCOUNT => 900))",
        "INSERT INTO EVENTS VALUES (3, 'again')",
    )
    # Each chunk's query is held a second, so the lock below is taken before the last one ends.
    standin.control(primary_keys={"EVENTS": ["ID"]}, hold={r'"EVENTS".*WHERE': 1.0})
    cfg = write_config(
        tmp_path / "config.json",
        make_config(sf_database, pg_database, [{"source": "EVENTS"}], batch_size=300),
    )
    blocker = psycopg.connect(pg_dsn)
    proc = None
    try:
        # COPY goes past an ACCESS SHARE lock; the ALTER TABLE of the key waits behind it.
        proc = spawn_cli("migrate", "--config", str(cfg), env=server_env, log=tmp_path / "1.log")

        def created() -> bool:
            with psycopg.connect(pg_dsn, autocommit=True) as c:
                return bool(
                    c.execute("SELECT to_regclass('public.events') IS NOT NULL").fetchone()[0]
                )

        _wait(created, proc, "the target table")
        blocker.execute("LOCK TABLE public.events IN ACCESS SHARE MODE")

        def adding_key() -> bool:
            with psycopg.connect(pg_dsn, autocommit=True) as c:
                row = c.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query ILIKE 'ALTER TABLE%%PRIMARY KEY%%'"
                ).fetchone()
            return bool(row and row[0])

        _wait(adding_key, proc, "the key to be added")
        proc.kill()
        proc.wait(30)
    finally:
        blocker.close()
        if proc is not None and proc.poll() is None:
            proc.kill()
    with psycopg.connect(pg_dsn) as conn:
        table = conn.execute(
            "SELECT status, (SELECT count(*) FROM migration_status.migration_chunk_status"
            " WHERE status <> 'completed') FROM migration_status.migration_table_status"
        ).fetchall()
    assert table == [("in_progress", 0)]
    assert _indexes(pg_dsn, "events") == {}
    assert len(_target(pg_dsn, "events", "id")) == 901  # every chunk had committed

    again = run_cli("migrate", "--config", str(cfg), env=server_env)
    out = again.stdout + again.stderr
    assert again.returncode == 0, out
    assert _target(pg_dsn, "events", "id, name") == _source(sf_conn, "EVENTS", "ID, NAME")
    assert list(_indexes(pg_dsn, "events")) == ["events_snowpg_key"]
    (meta,) = _metadata(pg_dsn, "EVENTS")
    assert meta["duplicate_keys"]["extra_rows"] == 1
    assert meta["duplicate_keys"]["samples"] == [["3"]]
    assert "duplicate source key (id): 1 key value(s)" in out


def test_the_lambda_answer_reports_the_duplicates(
    standin: StandinServer,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _execute(
        sf_conn,
        "CREATE TABLE EVENTS (ID NUMBER(38,0), NAME VARCHAR)",
        "INSERT INTO EVENTS VALUES (1, 'a'), (2, 'b'), (2, 'b2'), (3, 'c')",
    )
    standin.control(primary_keys={"EVENTS": ["ID"]})
    cfg = write_config(
        tmp_path / "config.json",
        make_config(sf_database, pg_database, [{"source": "EVENTS"}]),
    )
    monkeypatch.setenv("SNOWPG_CONFIG", str(cfg))
    answer = lambda_handler({"action": "migrate", "source_name": "src"}, FakeContext(120))
    assert answer["statusCode"] == 200, answer
    body = json.loads(answer["body"]) if isinstance(answer["body"], str) else answer["body"]
    (result,) = body["sources"]
    (table,) = result["tables"]
    assert table["rows"] == 4
    assert table["duplicate_keys"]["columns"] == ["id"]
    assert table["duplicate_keys"]["key_values"] == 1
    assert table["duplicate_keys"]["extra_rows"] == 1
    assert table["duplicate_keys"]["samples"] == [["2"]]
    assert (
        "duplicate source keys (every row loaded, no primary key): EVENTS (1 extra row(s))"
        in (body["message"])
    )

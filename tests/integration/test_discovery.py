"""Discovered tables end to end: "tables": "*" over 50 tables, patterns, and `snowpg init`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from snowpg.aws import secrets
from snowpg.aws.handler import lambda_handler
from snowpg.demo.servers import StandinServer
from tests.fixtures.migration import count_rows, make_config, run_cli, write_config

pytestmark = pytest.mark.integration


def _pg_tables(dsn: str, schema: str = "public") -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
    return {str(r[0]) for r in rows}


def _create(sf_conn: Any, name: str, rows: int, key: bool = True) -> None:
    cur = sf_conn.cursor()
    pk = " PRIMARY KEY" if key else ""
    cur.execute(f"CREATE TABLE {name} (ID NUMBER(38,0) NOT NULL{pk}, NOTE VARCHAR)")
    cur.execute(
        f"INSERT INTO {name} SELECT seq4(), 'row ' || seq4() "
        f"FROM TABLE(GENERATOR(ROWCOUNT => {rows}))"
    )
    cur.close()


def test_star_migrates_50_tables_with_no_per_table_config(
    fakesnow_server: StandinServer,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    if not isinstance(fakesnow_server, StandinServer):
        pytest.fail("this test reads the stand-in's query log (unset SNOWPG_TEST_SNOWFLAKE)")
    expected = {f"T_{i:02d}": 10 + i for i in range(50)}
    for name, rows in expected.items():
        _create(sf_conn, name, rows, key=int(name[2:]) % 5 != 0)  # every 5th has no key
    sf_conn.cursor().execute("CREATE VIEW V_ALL AS SELECT ID FROM T_01")
    config = make_config(sf_database, pg_database, [], batch_size=20)
    config["sources"][0]["tables"] = "*"
    cfg = write_config(tmp_path / "c.json", config)

    checked = run_cli("validate", "--config", str(cfg), env=server_env)
    assert checked.returncode == 0, checked.stderr
    assert 'tables matching "*" (views skipped), found when it runs' in checked.stdout

    before = fakesnow_server.stats()["queries"]
    result = run_cli("migrate", "--config", str(cfg), env=server_env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 view(s) skipped" in result.stderr and "V_ALL" in result.stderr
    asked = fakesnow_server.queries(before)
    print(f"{len(asked)} Snowflake queries for 50 tables")
    whole_schema = [q for q in asked if "->>" in q and "UPPER(c.table_name) IN" not in q]
    assert len(whole_schema) == 1  # discovery: one catalog statement for the whole schema
    assert _pg_tables(pg_dsn) == {name.lower() for name in expected}
    for name, rows in expected.items():
        assert count_rows(pg_dsn, "public", name.lower()) == (rows, rows), name

    again = run_cli("migrate", "--config", str(cfg), env=server_env, timeout=600)
    assert again.returncode == 0, again.stderr  # same config text, same hash: nothing to redo
    assert "already" in (again.stdout + again.stderr).lower()


def test_patterns_and_explicit_entries_choose_the_tables(
    monkeypatch: pytest.MonkeyPatch,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    for name in ("FACT_A", "FACT_B", "FACT_B_BAK", "TMP_X", "DIM_Y", "OTHER"):
        _create(sf_conn, name, 30)
    sf_conn.cursor().execute("CREATE VIEW FACT_V AS SELECT ID, NOTE FROM FACT_A")
    config = make_config(
        sf_database, pg_database, [{"source": "TMP_X", "target": "tmp_kept", "batch_size": 7}]
    )
    config["sources"][0].update(
        include_tables=["fact_*", "DIM_*", "NOTHING_*"], exclude_tables=["*_bak", "TMP_*"]
    )
    cfg = write_config(tmp_path / "c.json", config)

    planned = run_cli("plan", "--config", str(cfg), "--json", env=server_env)
    assert planned.returncode == 0, planned.stderr
    plans = {p["source_table"]: p for p in json.loads(planned.stdout)}
    assert set(plans) == {
        f"{sf_database}.PUBLIC.{n}" for n in ("TMP_X", "FACT_A", "FACT_B", "DIM_Y")
    }
    assert "'NOTHING_*' matches no table" in planned.stderr
    assert "'TMP_*' (exclude_tables) matches none" in planned.stderr

    monkeypatch.setenv("SNOWPG_CONFIG", str(cfg))
    secrets.clear_cache()
    answer = lambda_handler({"action": "validate_config"}, None)
    assert answer["statusCode"] == 200, answer
    (listed,) = answer["body"]["sources"]
    assert listed["tables"] == ["TMP_X", "DIM_Y", "FACT_A", "FACT_B"]
    assert listed["discovery"]["skipped_views"] == ["FACT_V"]
    assert listed["discovery"]["excluded"] == ["FACT_B_BAK"]
    assert listed["discovery"]["unmatched_patterns"] == ["NOTHING_*", "TMP_*"]

    views = dict(config)
    views["sources"] = [{**config["sources"][0], "include_views": True}]
    with_views = run_cli(
        "plan", "--config", str(write_config(tmp_path / "v.json", views)), "--json",
        env=server_env,
    )  # fmt: skip
    assert with_views.returncode == 0, with_views.stderr
    assert f"{sf_database}.PUBLIC.FACT_V" in {
        p["source_table"] for p in json.loads(with_views.stdout)
    }

    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _pg_tables(pg_dsn) == {"fact_a", "fact_b", "dim_y", "tmp_kept"}
    assert count_rows(pg_dsn, "public", "tmp_kept") == (30, 30)
    with psycopg.connect(pg_dsn) as conn:
        chunks = conn.execute(
            "SELECT count(*) FROM migration_status.migration_chunk_status"
            " WHERE source_table = 'TMP_X'"
        ).fetchone()
    assert chunks is not None and chunks[0] == 5  # 30 rows in chunks of the entry's batch_size 7


def test_init_writes_a_config_that_validates_and_migrates(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    _create(sf_conn, "ORDERS", 120)
    cur = sf_conn.cursor()
    cur.execute("CREATE TABLE EVENTS (NAME VARCHAR, LOGGED_AT TIMESTAMP_NTZ NOT NULL, N INT)")
    cur.execute(
        "INSERT INTO EVENTS SELECT 'e' || seq4(), dateadd(second, seq4(), '2024-01-01'::timestamp),"
        " seq4() FROM TABLE(GENERATOR(ROWCOUNT => 75))"
    )
    cur.execute("CREATE VIEW RECENT AS SELECT ID FROM ORDERS WHERE ID > 100")
    out = tmp_path / "config.json"
    args = ["init", "--database", sf_database, "--schema", "PUBLIC", "--output", str(out)]
    args += ["--target-database", pg_database, "--target-schema", "public"]

    made = run_cli(*args, env=server_env)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "ORDERS -> orders: 120 rows" in made.stdout and "key ID (primary key)" in made.stdout
    assert "EVENTS -> events: 75 rows" in made.stdout
    assert "key LOGGED_AT (suggested)" in made.stdout
    assert "1 view(s) skipped (--include-views to copy them): RECENT" in made.stdout
    written = json.loads(out.read_text())
    src = written["sources"][0]
    assert src["source_sf_database"] == sf_database and src["target_pg_database"] == pg_database
    assert src["tables"] == [
        {
            "enabled": True,
            "source": "EVENTS",
            "target": "events",
            "chunking_columns": ["LOGGED_AT"],
        },
        {"enabled": True, "source": "ORDERS", "target": "orders"},
    ]

    refused = run_cli(*args, env=server_env)
    assert refused.returncode == 2 and "already exists" in refused.stderr
    assert json.loads(out.read_text()) == written

    checked = run_cli("validate", "--config", str(out), env=server_env)
    assert checked.returncode == 0, checked.stderr
    assert "2 enabled table(s)" in checked.stdout
    connected = run_cli("validate", "--connect", "--config", str(out), env=server_env)
    assert connected.returncode == 0, connected.stdout + connected.stderr

    migrated = run_cli("migrate", "--config", str(out), env=server_env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert count_rows(pg_dsn, "public", "orders") == (120, 120)
    with psycopg.connect(pg_dsn) as conn:
        events = conn.execute("SELECT count(*), count(DISTINCT n) FROM public.events").fetchone()
    assert events == (75, 75)
    assert "recent" not in _pg_tables(pg_dsn)

    views = run_cli(*args, "--force", "--include-views", env=server_env)
    assert views.returncode == 0, views.stderr
    names = [t["source"] for t in json.loads(out.read_text())["sources"][0]["tables"]]
    assert names == ["EVENTS", "ORDERS", "RECENT"]


def test_init_of_an_empty_or_missing_schema_is_bad_input(
    sf_conn: Any, sf_database: str, server_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "c.json"
    made = run_cli(
        "init", "--database", sf_database, "--schema", "PUBLIC", "-o", str(out), env=server_env
    )
    assert made.returncode == 2, made.stdout + made.stderr
    assert f"no table in Snowflake schema {sf_database}.PUBLIC" in made.stderr
    assert not out.exists()

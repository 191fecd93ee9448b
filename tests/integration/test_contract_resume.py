"""A resumed run and verify read the table's load contract from its status row: no Snowflake
catalog query, asserted on the stand-in's query log."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from snowpg.demo.servers import StandinServer
from tests.fixtures.migration import (
    MIXED_SOURCE_COLS,
    MIXED_TARGET_COLS,
    compare_mixed,
    count_rows,
    create_mixed_table,
    make_config,
    run_cli,
    source_rows,
    target_rows,
    write_config,
)

pytestmark = pytest.mark.integration

_CATALOG = re.compile(r"information_schema|^\s*(describe|desc|show)\b", re.I | re.S)


def _catalog_queries(standin: StandinServer, since: int) -> list[str]:
    return [q for q in standin.queries(since) if _CATALOG.search(q)]


def test_resume_in_a_new_process_and_verify_describe_nothing_in_snowflake(
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
    standin = fakesnow_server
    create_mixed_table(sf_conn, "ORDERS", 4000)
    cfg = write_config(
        tmp_path / "config.json",
        make_config(
            sf_database, pg_database, [{"source": "ORDERS"}], batch_size=500, parallel_threads=1
        ),
    )
    before_first = standin.stats()["queries"]
    first = run_cli("migrate", "--config", str(cfg), "--max-seconds", "0", env=server_env)
    assert first.returncode == 3, first.stdout + first.stderr
    assert count_rows(pg_dsn, "public", "orders")[0] < 4000
    # The planning run did describe the table: the log is able to show a catalog query.
    assert _catalog_queries(standin, before_first), "the planning run asked no catalog query"

    with psycopg.connect(pg_dsn) as conn:
        (meta,) = conn.execute(
            "SELECT metadata FROM migration_status.migration_table_status"
        ).fetchone() or (None,)
    assert meta is not None and meta["contract_version"] == 1
    assert [c["name"] for c in meta["source"]["columns"]] == MIXED_SOURCE_COLS

    before_resume = standin.stats()["queries"]
    resumed = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resumed" in resumed.stdout
    asked = standin.queries(before_resume)
    assert any(re.search(r"\bORDERS\b", q) for q in asked), "the resume read no rows"
    assert _catalog_queries(standin, before_resume) == []
    compare_mixed(
        source_rows(sf_conn, "ORDERS", MIXED_SOURCE_COLS, "ID"),
        target_rows(pg_dsn, "public", "orders", MIXED_TARGET_COLS, "id"),
    )

    before_verify = standin.stats()["queries"]
    verified = run_cli("verify", "--config", str(cfg), env=server_env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert standin.stats()["queries"] > before_verify
    assert _catalog_queries(standin, before_verify) == []


def test_a_row_from_before_contracts_still_resumes_by_describing_the_table(
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
    create_mixed_table(sf_conn, "ORDERS", 3000)
    cfg = write_config(
        tmp_path / "config.json",
        make_config(
            sf_database, pg_database, [{"source": "ORDERS"}], batch_size=500, parallel_threads=1
        ),
    )
    first = run_cli("migrate", "--config", str(cfg), "--max-seconds", "0", env=server_env)
    assert first.returncode == 3, first.stdout + first.stderr
    with psycopg.connect(pg_dsn) as conn:
        # What the previous snowpg version wrote: the same row without the contract's keys.
        conn.execute(
            "UPDATE migration_status.migration_table_status SET metadata = metadata"
            " - 'contract_version' - 'load_mode' - 'source' - 'mappings' - 'nul_policy'"
            " - 'copy_format'"
        )
    before = fakesnow_server.stats()["queries"]
    resumed = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert _catalog_queries(fakesnow_server, before), "the old row was not described"
    compare_mixed(
        source_rows(sf_conn, "ORDERS", MIXED_SOURCE_COLS, "ID"),
        target_rows(pg_dsn, "public", "orders", MIXED_TARGET_COLS, "id"),
    )

"""Inputs that slipped past validation: each is refused with one line before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.migration import create_mixed_table, make_config, run_cli, write_config

pytestmark = pytest.mark.integration


def _nothing_written(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
            " AND nspname NOT IN ('information_schema', 'public')"
        ).fetchall()
        tables = conn.execute(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
    assert rows == [] and tables == []


LONG = "x" * 70


@pytest.mark.parametrize(
    ("table_patch", "source_patch", "needle"),
    [
        ({"source_filter": '"ID" >= 0) OR ("ID" < 0'}, {}, "closes a parenthesis it did not open"),
        ({"target": LONG}, {}, "target 'xxx"),
        ({}, {"target_pg_schema": LONG}, "target_pg_schema 'xxx"),
        ({"batch_size": True}, {}, "batch_size: expected an integer, got"),
        ({"enabled": "yes"}, {}, "enabled: expected true or false, got a string"),
        ({"truncate_onstart": 1}, {}, "truncate_onstart: expected true or false"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "plan", "migrate"])
def test_bad_value_is_one_line_exit_2_and_nothing_written(
    command: str,
    table_patch: dict[str, Any],
    source_patch: dict[str, Any],
    needle: str,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_mixed_table(sf_conn, "ORDERS", 50)
    config = make_config(sf_database, pg_database, [{"source": "ORDERS", **table_patch}])
    config["sources"][0].update(source_patch)
    cfg = write_config(tmp_path / "c.json", config)
    result = run_cli(command, "--config", str(cfg), env=server_env)
    lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert needle in lines[0], lines[0]
    if "70 bytes" not in lines[0] and ("target" in table_patch or source_patch):
        raise AssertionError(f"the byte length is not named: {lines[0]}")
    _nothing_written(pg_dsn)

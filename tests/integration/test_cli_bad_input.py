"""Bad input: one clear line naming the problem, a non-zero exit, and nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.migration import create_mixed_table, make_config, run_cli, write_config

pytestmark = pytest.mark.integration


def _nothing_written(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = 'migration_status'"
        ).fetchall()
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
    assert schemas == [] and tables == []


def _one_line_error(result: Any, *needles: str) -> None:
    assert result.returncode != 0
    lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:"), lines[0]
    for n in needles:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}"


@pytest.fixture
def base(sf_conn: Any, sf_database: str, pg_database: str) -> dict[str, Any]:
    create_mixed_table(sf_conn, "ORDERS", 100)
    return make_config(sf_database, pg_database, [{"source": "ORDERS"}])


@pytest.mark.parametrize(
    ("mutate", "needles"),
    [
        pytest.param(
            lambda c: c["sources"][0]["tables"].append({"source": "NOPE"}),
            ["NOPE", "not found"],
            id="missing-table",
        ),
        pytest.param(
            lambda c: c["sources"][0]["tables"][0].update(chunking_columns=["NO_SUCH_COL"]),
            ["NO_SUCH_COL", "chunking_columns"],
            id="missing-column",
        ),
        pytest.param(lambda c: c.update(batch_size="lots"), ["batch_size"], id="wrong-type"),
        pytest.param(
            lambda c: c["sources"][0]["tables"][0].update(chunk_columns=["ID"]),
            ["chunk_columns"],
            id="unknown-key",
        ),
        pytest.param(
            lambda c: c.update(postgres={"host": "${NOT_SET_ANYWHERE}", "user": "x"}),
            ["NOT_SET_ANYWHERE", "postgres.host"],
            id="unset-var",
        ),
    ],
)
def test_bad_config_is_one_line_and_writes_nothing(
    base: dict[str, Any],
    mutate: Any,
    needles: list[str],
    pg_dsn: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    mutate(base)
    cfg = write_config(tmp_path / "c.json", base)
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    _one_line_error(result, *needles)
    _nothing_written(pg_dsn)


def test_unknown_source_lists_known_ones(
    base: dict[str, Any], server_env: dict[str, str], tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "c.json", base)
    result = run_cli("migrate", "--source", "nope", "--config", str(cfg), env=server_env)
    _one_line_error(result, "nope", "src")
    assert result.returncode == 2


def test_bad_json_names_the_line(server_env: dict[str, str], tmp_path: Path) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text('{\n  "sources": [\n    {"source_name": "x",,}\n  ]\n}\n')
    result = run_cli("validate", "--config", str(cfg), env=server_env)
    _one_line_error(result, "line 3")


def test_missing_credentials_names_the_variables(
    base: dict[str, Any], pg_dsn: str, server_env: dict[str, str], tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "c.json", base)
    env = {k: v for k, v in server_env.items()}
    env["SNOWFLAKE_PASSWORD"] = ""
    env["SNOWFLAKE_RSA_KEY"] = ""
    result = run_cli("migrate", "--config", str(cfg), env=env)
    _one_line_error(result, "SNOWFLAKE_RSA_KEY", "SNOWFLAKE_PASSWORD")
    _nothing_written(pg_dsn)


def test_missing_config_file_says_how_to_point_at_one(
    tmp_path: Path, server_env: dict[str, str]
) -> None:
    result = run_cli("validate", "--config", str(tmp_path / "absent.json"), env=server_env)
    _one_line_error(result, "absent.json", "SNOWPG_CONFIG")


def test_validate_and_plan_write_nothing(
    base: dict[str, Any], pg_dsn: str, server_env: dict[str, str], tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "c.json", base)
    ok = run_cli("validate", "--config", str(cfg), env=server_env)
    assert ok.returncode == 0 and "valid" in ok.stdout
    plan = run_cli("plan", "--config", str(cfg), "--json", env=server_env)
    assert plan.returncode == 0, plan.stderr
    data = json.loads(plan.stdout)
    assert data[0]["estimated_rows"] == 100 and data[0]["create_target"] is True
    assert [c["target"] for c in data[0]["columns"]][:2] == ["id", "Payer Id"]
    _nothing_written(pg_dsn)

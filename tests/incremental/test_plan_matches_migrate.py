"""``snowpg plan`` plans incremental tables exactly as ``migrate`` does: it shows the watermark
window and the delete-check chunks of the next run, and refuses what migrate would refuse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.migration import make_config, run_cli, write_config
from tests.incremental.helpers import KEYS, WATERMARK, change_rows, create_table, scalar

pytestmark = pytest.mark.integration


def _plan_json(cfg: Path, env: dict[str, str]) -> dict[str, Any]:
    result = run_cli("plan", "--json", "--config", str(cfg), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    [table] = json.loads(result.stdout)
    assert isinstance(table, dict)
    return table


def test_plan_shows_the_window_and_delete_chunks_migrate_will_use(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_table(sf_conn, "ITEMS", 600)
    table = {
        "source": "ITEMS",
        "uniqueness_columns": KEYS,
        "source_watermark": WATERMARK,
        "detect_deletes": True,
    }
    cfg = write_config(
        tmp_path / "c.json", make_config(sf_database, pg_database, [table], batch_size=200)
    )
    first = _plan_json(cfg, server_env)
    assert first["incremental"]["first_load"] is True
    assert first["incremental"]["low"] is None and first["incremental"]["delete_check_chunks"] == 0
    assert first["action"] == "create"
    done = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert done.returncode == 0, done.stdout + done.stderr

    change_rows(sf_conn, "ITEMS", update_mod=10, insert=20, start_id=100_000)
    nxt = _plan_json(cfg, server_env)
    window = nxt["incremental"]
    assert window["first_load"] is False and nxt["action"] == "load"
    loaded_high = scalar(pg_dsn, 'SELECT max("Updated At") FROM public.items')
    assert window["low"] is not None
    assert str(window["low"]).replace("T", " ")[:19] == str(loaded_high)[:19]
    assert window["high"] is not None and str(window["high"]) > str(window["low"])
    assert window["delete_check_chunks"] >= 1
    text = run_cli("plan", "--config", str(cfg), env=server_env)
    assert text.returncode == 0, text.stdout + text.stderr
    assert "incremental:" in text.stdout and "delete-check chunk" in text.stdout

    # migrate then runs that same plan: the chunks it records equal what plan showed
    second = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert second.returncode == 0, second.stdout + second.stderr
    recorded = scalar(
        pg_dsn,
        "SELECT total_chunks FROM migration_status.migration_table_status t"
        " JOIN migration_status.migration_runs r USING (run_id)"
        " ORDER BY r.started_at DESC LIMIT 1",
    )
    assert recorded == len(nxt["chunks"])


def test_plan_refuses_what_migrate_refuses(
    sf_conn: Any,
    sf_database: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_table(sf_conn, "NOKEYS", 50)
    loaded = {"source": "NOKEYS", "target": "nokeys"}
    cfg = write_config(tmp_path / "a.json", make_config(sf_database, pg_database, [loaded]))
    done = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert done.returncode == 0, done.stdout + done.stderr
    # Now incremental without keys into the filled target, and no high-water mark known.
    incremental = {**loaded, "source_watermark": WATERMARK}
    cfg = write_config(tmp_path / "b.json", make_config(sf_database, pg_database, [incremental]))
    for command in ("plan", "migrate"):
        result = run_cli(command, "--config", str(cfg), env=server_env)
        assert result.returncode == 2, command + result.stdout + result.stderr
        assert "no high-water mark is known" in " ".join(result.stderr.split()), result.stderr

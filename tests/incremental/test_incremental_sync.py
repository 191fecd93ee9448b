"""Incremental sync end to end (real CLI, fakesnow, PostgreSQL): upsert, deletes, insert-only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.migration import make_config, run_cli, write_config
from tests.incremental.helpers import (
    KEYS,
    WATERMARK,
    change_rows,
    create_table,
    execute,
    scalar,
    source_set,
    target_set,
)

pytestmark = pytest.mark.integration


def _table(**extra: Any) -> dict[str, Any]:
    return {
        "source": "ITEMS",
        "uniqueness_columns": KEYS,
        "source_watermark": WATERMARK,
        **extra,
    }


def test_bulk_then_change_insert_delete_then_sync_equals_source(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_table(sf_conn, "ITEMS", 3000)
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [_table(detect_deletes=True)], batch_size=500),
    )
    bulk = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert bulk.returncode == 0, bulk.stdout + bulk.stderr
    assert target_set(pg_dsn, "items") == source_set(sf_conn, "ITEMS")

    change_rows(sf_conn, "ITEMS", update_mod=10, insert=250, start_id=100_000)
    execute(sf_conn, 'DELETE FROM ITEMS WHERE "Item Id" < 3000 AND mod("Item Id", 15) = 2')
    expected = source_set(sf_conn, "ITEMS")
    assert len(expected) == 3000 + 250 - 200

    sync = run_cli("sync", "--config", str(cfg), "--until-lag", "0s", env=server_env)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert target_set(pg_dsn, "items") == expected
    assert "caught up" in sync.stdout
    # Only the window was read: 300 changed + 250 new rows, not the whole table again.
    copied = scalar(
        pg_dsn,
        "SELECT total_rows_copied FROM migration_status.migration_table_status"
        " ORDER BY started_at DESC LIMIT 1",
    )
    assert copied == 300 + 250

    # The cutover view: source and target high-water marks agree, lag 0.
    status = run_cli("status", "--config", str(cfg), "--lag", "--json", env=server_env)
    assert status.returncode == 0, status.stderr
    (lag,) = json.loads(status.stdout)[0]["lag"]
    assert lag["source_table"] == "ITEMS" and lag["lag"] == 0
    assert lag["source_high"] is not None and lag["source_high"] == lag["target_high"]

    # Nothing new: another sync copies nothing and changes nothing.
    again = run_cli("sync", "--config", str(cfg), env=server_env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert target_set(pg_dsn, "items") == expected
    assert (
        scalar(
            pg_dsn,
            "SELECT total_rows_copied FROM migration_status.migration_table_status"
            " ORDER BY started_at DESC LIMIT 1",
        )
        == 0
    )


def test_insert_only_keeps_changed_rows_and_adds_new_ones(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_table(sf_conn, "ITEMS", 1000)
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [_table(insert_only_mode=True)], batch_size=300),
    )
    assert run_cli("migrate", "--config", str(cfg), env=server_env).returncode == 0
    before = {(r[0], r[1]): r for r in target_set(pg_dsn, "items")}

    change_rows(sf_conn, "ITEMS", update_mod=4, insert=120, start_id=50_000)
    sync = run_cli("sync", "--config", str(cfg), env=server_env)
    assert sync.returncode == 0, sync.stdout + sync.stderr

    after = {(r[0], r[1]): r for r in target_set(pg_dsn, "items")}
    source = {(r[0], r[1]): r for r in source_set(sf_conn, "ITEMS")}
    assert len(after) == 1000 + 120
    changed = [k for k in before if source[k] != before[k]]
    assert len(changed) == 250
    for k in changed:
        assert after[k] == before[k]  # left as it was
    new = [k for k in source if k not in before]
    assert len(new) == 120 and all(after[k] == source[k] for k in new)


def test_detect_deletes_flag_mode_marks_rows_gone_from_source(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_table(sf_conn, "ITEMS", 800)
    table = _table(detect_deletes=True, delete_mode="flag", deleted_flag_column="is_deleted")
    cfg = write_config(
        tmp_path / "c.json", make_config(sf_database, pg_database, [table], batch_size=200)
    )
    assert run_cli("migrate", "--config", str(cfg), env=server_env).returncode == 0
    execute(sf_conn, 'DELETE FROM ITEMS WHERE mod("Item Id", 9) = 4')
    sync = run_cli("sync", "--config", str(cfg), env=server_env)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert target_set(pg_dsn, "items", flag="is_deleted") == source_set(sf_conn, "ITEMS")
    flagged = scalar(pg_dsn, "SELECT count(*) FROM public.items WHERE is_deleted")
    assert flagged == len([i for i in range(800) if i % 9 == 4])

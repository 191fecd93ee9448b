"""source_watermark loads into a target_watermark of another name (the existing tool's meaning)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.migration import make_config, run_cli, write_config
from tests.incremental.helpers import KEYS, WATERMARK, change_rows, create_table, scalar

pytestmark = pytest.mark.integration


def test_watermark_rename_fills_the_target_column_and_the_next_run_reads_only_the_window(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    create_table(sf_conn, "ITEMS", 1000)
    table = {
        "source": "ITEMS",
        "uniqueness_columns": KEYS,
        "source_watermark": WATERMARK,
        "target_watermark": "last_modified",
    }
    cfg = write_config(
        tmp_path / "c.json", make_config(sf_database, pg_database, [table], batch_size=500)
    )
    plan = run_cli("plan", "--config", str(cfg), env=server_env)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert f"{WATERMARK} -> last_modified" in plan.stdout

    first = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert first.returncode == 0, first.stdout + first.stderr
    filled = scalar(
        pg_dsn,
        "SELECT count(*) FROM public.items WHERE last_modified IS NOT NULL"
        " AND last_modified >= '2024-01-01'",
    )
    assert filled == 1000
    assert (
        scalar(
            pg_dsn,
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'items' AND column_name = 'Updated At'",
        )
        == 0
    )

    change_rows(sf_conn, "ITEMS", update_mod=10, insert=50, start_id=100_000)
    second = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert second.returncode == 0, second.stdout + second.stderr
    copied = scalar(
        pg_dsn,
        "SELECT total_rows_copied FROM migration_status.migration_table_status"
        " ORDER BY started_at DESC LIMIT 1",
    )
    assert copied == 100 + 50  # the window, not the whole table again
    assert scalar(pg_dsn, "SELECT count(*) FROM public.items") == 1050
    assert scalar(pg_dsn, "SELECT max(last_modified) FROM public.items") == scalar(
        pg_dsn, 'SELECT max(last_modified) FROM public.items WHERE "Item Id" >= 100000'
    )

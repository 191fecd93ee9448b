"""Config entries written the existing tool's way, migrated end to end (fakesnow -> PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.migration import make_config, run_cli, write_config

pytestmark = pytest.mark.integration


def test_quoted_source_names_the_exact_lower_case_table(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cur = sf_conn.cursor()
    cur.execute('CREATE TABLE "multipayer_payer" ("id" INT PRIMARY KEY, "payer" VARCHAR)')
    cur.execute(
        "INSERT INTO \"multipayer_payer\" SELECT seq4(), 'p' || seq4() "
        "FROM TABLE(GENERATOR(ROWCOUNT => 50))"
    )
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [{"source": '"multipayer_payer"'}]),
    )
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    with psycopg.connect(pg_dsn) as conn:
        got = conn.execute("SELECT count(*), sum(id) FROM public.multipayer_payer").fetchone()
        metadata = conn.execute("SELECT metadata FROM migration_status.migration_runs").fetchone()
        names = conn.execute(
            "SELECT DISTINCT source_table, target_table FROM migration_status.migration_table_status"
        ).fetchall()
    assert got == (50, sum(range(50)))
    assert names == [("multipayer_payer", "multipayer_payer")]
    # The existing tool's monitoring SQL reads the run's sources from metadata.source_names.
    assert metadata is not None and metadata[0]["source_names"] == ["src"]
    assert metadata[0]["source_name"] == "src"  # snowpg's own keys stay

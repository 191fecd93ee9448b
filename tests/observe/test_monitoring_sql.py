"""Every ```sql query in docs/MONITORING.md runs against a real status schema and finds what was
planted there; ``snowpg status`` flags the same stuck and failed chunks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.fixtures.migration import create_mixed_table, make_config, run_cli, write_config
from tests.observe.helpers import status_json

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "MONITORING.md"


def monitoring_queries() -> dict[str, str]:
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(), re.S)
    named = {}
    for block in blocks:
        m = re.match(r"-- name: (\w+)\n", block)
        assert m, f"a ```sql block in MONITORING.md has no '-- name:' line:\n{block}"
        named[m.group(1)] = block
    assert len(named) == len(blocks), "two queries share a name"
    return named


PLANT = """
UPDATE migration_status.migration_runs SET status = 'running', completed_at = NULL;
UPDATE migration_status.migration_chunk_status SET retry_count = 2
    WHERE source_table = 'ORDERS' AND chunk_id = 1;
UPDATE migration_status.migration_chunk_status SET status = 'failed',
    error_message = 'table ORDERS chunk 2: value "x" too long for column "Payer Id"'
    WHERE source_table = 'ORDERS' AND chunk_id = 2;
UPDATE migration_status.migration_chunk_status SET status = 'in_progress', completed_at = NULL,
    started_at = LOCALTIMESTAMP - interval '1 hour', lease_owner = 'ip-10-0-0-7:4242:ab12cd:0',
    lease_expires_at = (now() AT TIME ZONE 'UTC') - interval '10 minutes'
    WHERE source_table = 'ITEMS' AND chunk_id = 1;
UPDATE migration_status.migration_table_status SET status = 'in_progress', completed_at = NULL,
    completed_chunks = completed_chunks - 1;
UPDATE migration_status.migration_table_status SET metadata = metadata || '{"duplicate_keys":
    {"columns": ["id"], "key_values": 2, "extra_rows": 3, "null_key_rows": 0,
     "samples": [["7"], ["9"]], "index": "items_snowpg_key"}}' WHERE source_table = 'ITEMS';
"""


def test_every_monitoring_query_runs_and_finds_planted_problems(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    queries = monitoring_queries()
    assert len(queries) >= 8
    create_mixed_table(sf_conn, "ORDERS", 3000)
    create_mixed_table(sf_conn, "ITEMS", 2000)
    cfg = write_config(
        tmp_path / "c.json",
        make_config(
            sf_database, pg_database, [{"source": "ORDERS"}, {"source": "ITEMS"}], batch_size=1000
        ),
    )
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    # The end-of-run report carries bytes, retries and verification per table.
    assert (
        "bytes" in result.stdout and "retries" in result.stdout and "verification" in result.stdout
    )
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(PLANT)

    out: dict[str, list[dict[str, Any]]] = {}
    with psycopg.connect(pg_dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        for name, query in queries.items():
            cur.execute(query.encode())
            out[name] = cur.fetchall()

    assert [r["status"] for r in out["active_runs"]] == ["running"]
    assert out["active_runs"][0]["chunks_failed"] == 1
    assert out["active_runs"][0]["chunks_in_progress"] == 1
    assert sorted(r["source"].split(".")[-1] for r in out["table_progress"]) == ["ITEMS", "ORDERS"]
    assert {r["source_table"] for r in out["throughput_eta"]} == {"ITEMS", "ORDERS"}
    assert sum(r["rows"] for r in out["rows_per_minute"]) == 5000 - 1000 - 1000  # 2 planted away
    [stuck] = out["stuck_chunks"]
    assert (stuck["source_table"], stuck["chunk_id"]) == ("ITEMS", 1)
    assert stuck["running_for"].total_seconds() >= 3600
    [expired] = out["expired_leases"]
    assert (expired["source_table"], expired["chunk_id"]) == ("ITEMS", 1)
    [failed] = out["failed_chunks"]
    assert (failed["source_table"], failed["chunk_id"]) == ("ORDERS", 2)
    assert "too long" in failed["error_message"]
    retries = {r["source_table"]: r["retries"] for r in out["retries_per_table"]}
    assert retries == {"ORDERS": 2, "ITEMS": 0}
    report = {r["source_table"]: r for r in out["run_report"]}
    assert report["ORDERS"]["total_rows_copied"] == 3000 and report["ORDERS"]["retries"] == 2
    assert 0 < len(out["slowest_chunks"]) <= 20
    [dup] = out["duplicate_keys"]
    assert (dup["source_table"], dup["key_columns"], dup["extra_rows"]) == ("ITEMS", ["id"], 3)
    assert dup["examples"] == [["7"], ["9"]] and dup["dropped_by_upsert"] is None

    # snowpg status sees the same problems.
    [live] = status_json(cfg, server_env)
    tables = {t["source_table"]: t for t in live["tables"]}
    assert [(c["chunk_id"], c["lease_owner"]) for c in tables["ITEMS"]["stuck_chunks"]] == [
        (1, "ip-10-0-0-7:4242:ab12cd:0")
    ]
    assert tables["ITEMS"]["stuck_chunks"][0]["seconds"] >= 3600
    assert [c["chunk_id"] for c in tables["ORDERS"]["failed_chunks"]] == [2]
    assert tables["ORDERS"]["retries"] == 2 and live["retries"] == 2
    assert tables["ORDERS"]["stuck_chunks"] == [] and tables["ITEMS"]["failed_chunks"] == []
    text = run_cli("status", "--config", str(cfg), env=server_env)
    assert "stuck ITEMS chunk 1: in progress for 1h 00m" in text.stdout
    assert 'failed ORDERS chunk 2: table ORDERS chunk 2: value "x" too long' in text.stdout

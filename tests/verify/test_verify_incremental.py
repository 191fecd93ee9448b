"""snowpg verify on incremental tables (timestamp watermark, upserts, delete checks): a clean
first load and a clean sync match; a changed VARIANT value and a changed timestamp are found, in
the run's window and, through the delete checks, outside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.migration import make_config, run_cli, write_config

pytestmark = pytest.mark.integration

COLUMNS = (
    "ID NUMBER(38,0), VAL VARCHAR, DOC VARIANT, CREATED TIMESTAMP_NTZ, UPDATED_AT TIMESTAMP_NTZ"
)


def _execute(sf_conn: Any, *statements: str) -> None:
    cur = sf_conn.cursor()
    for s in statements:
        cur.execute(s)
    cur.close()


def _verify(cfg: Path, env: dict[str, str]) -> tuple[int, str]:
    result = run_cli("verify", "--config", str(cfg), env=env)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("detect_deletes", [True, False])
def test_incremental_runs_verify_and_differences_are_found(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
    detect_deletes: bool,
) -> None:
    _execute(
        sf_conn,
        f"CREATE OR REPLACE TABLE ITEMS ({COLUMNS})",
        "INSERT INTO ITEMS SELECT seq4(), 'v' || seq4(), "
        'parse_json(\'{"n": \' || seq4() || \', "tags": ["a", 1.50]}\'), '
        "dateadd(second, seq4(), '2019-01-01 00:00:00.000001'::timestamp_ntz), "
        "dateadd(second, seq4(), '2024-01-01 00:00:00'::timestamp_ntz) "
        "FROM TABLE(GENERATOR(ROWCOUNT => 200))",
    )
    table = {
        "source": "ITEMS",
        "uniqueness_columns": ["ID"],
        "source_watermark": "UPDATED_AT",
        "detect_deletes": detect_deletes,
    }
    cfg = write_config(
        tmp_path / "c.json", make_config(sf_database, pg_database, [table], batch_size=50)
    )
    first = run_cli("migrate", "--config", str(cfg), "--verify", env=server_env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "1 of 1 table(s) verified equal, 0 differing row(s)" in first.stdout

    # Source changes: 20 rows updated (new document, newer watermark), 30 new rows, 5 deleted.
    _execute(
        sf_conn,
        'UPDATE ITEMS SET DOC = parse_json(\'{"n": -1, "tags": []}\'), '
        "UPDATED_AT = dateadd(day, 30, UPDATED_AT) WHERE mod(ID, 10) = 3",
        "INSERT INTO ITEMS SELECT 1000 + seq4(), 'new', parse_json('{\"new\": true}'), "
        "'2020-02-02 02:02:02'::timestamp_ntz, "
        "dateadd(second, seq4(), '2024-06-01 00:00:00'::timestamp_ntz) "
        "FROM TABLE(GENERATOR(ROWCOUNT => 30))",
        "DELETE FROM ITEMS WHERE ID IN (5, 6, 7, 8, 9)",
    )
    sync = run_cli("sync", "--config", str(cfg), env=server_env)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    code, out = _verify(cfg, server_env)
    assert code == 0, out
    assert "1 of 1 table(s) verified equal, 0 differing row(s)" in out, out
    with psycopg.connect(pg_dsn) as conn:
        window = conn.execute(
            "SELECT count(*), sum((verify_detail->>'source_rows')::int)"
            " FROM migration_status.migration_chunk_status c"
            " JOIN migration_status.migration_runs r USING (run_id)"
            " WHERE r.started_at = (SELECT max(started_at) FROM migration_status.migration_runs)"
            "   AND verify_status = 'match'"
        ).fetchone()
    assert window is not None
    # The window holds the 20 updated and 30 new rows; delete checks compare the other 175 rows
    # of the 225 left: each row once.
    assert window[1] == (225 if detect_deletes else 20 + 30), window

    with psycopg.connect(pg_dsn) as conn:
        # In the window: one updated row's document and one new row's timestamp.
        conn.execute("""UPDATE public.items SET doc = '{"n": -1, "tags": [0]}' WHERE id = 13""")
        conn.execute(
            "UPDATE public.items SET created = created + interval '1 second' WHERE id = 1004"
        )
        # Outside the window (only delete checks look there).
        conn.execute(
            """UPDATE public.items SET doc = '{"n": 99, "tags": ["a", 1.5]}' WHERE id = 50"""
        )
    code, out = _verify(cfg, server_env)
    assert code == 1, out
    assert "changed  ID=13" in out and "changed  ID=1004" in out, out
    if detect_deletes:
        assert "changed  ID=50" in out and "3 differing row(s)" in out, out
    else:
        assert "ID=50" not in out and "2 differing row(s)" in out, out

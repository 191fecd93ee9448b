"""The type matrix through ``snowpg verify``: after a clean copy every chunk matches, and a changed
TIMESTAMP_NTZ value and a changed VARIANT value are each found by key.

The side channels of the stand-in are left off here: they change what the stand-in *sends*, not
what fakesnow's SQL computes, and verify hashes on the Snowflake side. The emulator cannot take
verify's canonical timestamp (``DATE_PART(nanosecond, ts)``) outside 1677-2262 (DuckDB computes
it on nanosecond timestamps: "Could not convert Timestamp to higher precision"; Snowflake can), so
the 0001-01-01 and 9999-12-31 timestamps of the matrix are moved inside that range here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.migration import make_config, run_cli, write_config
from tests.types.matrix_data import create_matrix

pytestmark = pytest.mark.integration


def test_matrix_verifies_clean_and_changed_values_are_found(
    fakesnow_server: Any,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    fakesnow_server.control(reset=True)
    create_matrix(sf_conn)
    cur = sf_conn.cursor()
    for column, ids in (("NTZ", "1, 2"), ("NTZ9", "3"), ("TZ3", "2, 3")):
        cur.execute(
            f"UPDATE MATRIX SET {column} = '2200-01-01 00:00:00.999999' WHERE ID IN ({ids})"
        )
    cur.close()
    cfg = write_config(
        tmp_path / "c.json", make_config(sf_database, pg_database, [{"source": "MATRIX"}])
    )
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr

    result = run_cli("verify", "--config", str(cfg), env=server_env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "1 of 1 table(s) verified equal, 0 differing row(s)" in out

    with psycopg.connect(pg_dsn) as pg:
        pg.execute("UPDATE public.matrix SET ntz = ntz + interval '1 microsecond' WHERE id = 3")
    result = run_cli("verify", "--config", str(cfg), env=server_env)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "changed  ID=3" in out and "1 differing row(s)" in out

    with psycopg.connect(pg_dsn) as pg:
        pg.execute("""UPDATE public.matrix SET v = '{"a": 1}'::jsonb WHERE id = 5""")
    result = run_cli("verify", "--config", str(cfg), env=server_env)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "changed  ID=3" in out and "changed  ID=5" in out and "2 differing row(s)" in out

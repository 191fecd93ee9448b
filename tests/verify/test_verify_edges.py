"""No false positives: edge values of every compared type verify equal after a real copy, and a
change at the last compared digit is still seen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.migration import make_config, run_cli, write_config

pytestmark = pytest.mark.integration

EDGE_TABLE = (
    'CREATE TABLE EDGES (ID NUMBER(38,0) PRIMARY KEY, "Mixed Case" VARCHAR, BIG NUMBER(38,0), '
    "FIX NUMBER(38,10), F FLOAT, D DATE, T TIME, TS TIMESTAMP_NTZ, TZ TIMESTAMP_TZ, B BINARY, "
    "FLAG BOOLEAN, V VARIANT)"
)
FLOATS = [
    "'NaN'", "'inf'", "'-inf'", "-0.0", "0.0", "1e300", "-1.7976931348623157e308", "5e-324",
    "2.2250738585072014e-308", "0.1 + 0.2", "1000", "0.001", "100000000000000.5", "1e15 + 0.5",
    "123456789.12345678", "-0.3333333333333333", "9.999999999999999e22",
]  # fmt: skip


def _rows() -> list[str]:
    out = []
    for i, f in enumerate(FLOATS):
        sign = "-" if i % 2 else ""
        out.append(
            f"SELECT {i}, {['NULL', chr(39) * 2, chr(39) + 'héllo ✓ שלום' + chr(39)][i % 3]}, "
            f"CAST('{sign}{10**18 + i}' AS NUMBER(38,0)), CAST('{sign}{i}.1200000000' AS NUMBER(38,10)), "
            f"CAST({f} AS FLOAT), "
            f"CAST('{['0001-01-01', '9999-12-31', '1969-12-31'][i % 3]}' AS DATE), "
            f"CAST('{['00:00:00', '23:59:59.999999', '12:00:00.5'][i % 3]}' AS TIME), "
            f"CAST('{['1900-01-01 00:00:00.000001', '2024-02-29 23:59:59.999999', '1969-12-31 23:59:59.5'][i % 3]}' AS TIMESTAMP_NTZ), "
            f"CAST('2021-06-01 12:00:00.{i:06d}' AS TIMESTAMP_TZ), "
            f"TO_BINARY('{'ab' * i}', 'HEX'), {['TRUE', 'FALSE', 'NULL'][i % 3]}, "
            f'PARSE_JSON(\'{{"b": {i}, "a": [1, 2.50]}}\')'
        )
    return out


def test_edge_values_verify_equal_and_a_last_digit_change_is_seen(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cur = sf_conn.cursor()
    cur.execute(EDGE_TABLE)
    cur.execute("INSERT INTO EDGES " + " UNION ALL ".join(_rows()))
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [{"source": "EDGES"}], batch_size=5),
    )
    result = run_cli("migrate", "--config", str(cfg), "--verify", env=server_env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "1 of 1 table(s) verified equal, 0 differing row(s)" in out
    with psycopg.connect(pg_dsn) as conn:
        # The 15th significant digit of a float, one microsecond, one 1e-10 step: all differences.
        conn.execute("UPDATE public.edges SET f = 123456789.1234 WHERE id = 14")
        conn.execute("UPDATE public.edges SET ts = ts + interval '1 microsecond' WHERE id = 4")
        conn.execute("UPDATE public.edges SET fix = fix + 0.0000000001 WHERE id = 5")
    again = run_cli("verify", "--config", str(cfg), env=server_env)
    out = again.stdout + again.stderr
    assert again.returncode == 1, out
    for key in (14, 4, 5):
        assert f"changed  ID={key}" in out, out
    assert "3 differing row(s)" in out

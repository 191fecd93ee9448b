"""Identifier policy end to end: lower-case by default, ``identifier_case: preserve``, 63-byte
shortening with a hash suffix, reserved words and odd characters, collisions refused before
anything is written, and the mapping report of ``snowpg plan``."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.migration import make_config, run_cli, write_config

pytestmark = pytest.mark.integration

LONG_UPPER = "A_VERY_LONG_COLUMN_NAME_THAT_GOES_ON_AND_ON_BEYOND_SIXTY_THREE_BYTES_X1"
LONG_UPPER_2 = LONG_UPPER[:-1] + "2"  # same first 63 bytes: only the hash tells them apart
LONG_MIXED = "Ünïcödé Mixed Case Name " * 3
COLUMNS = ["ID", "Payer Id", LONG_UPPER, LONG_UPPER_2, LONG_MIXED, "USER", "select", "odd.char-$"]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sha8(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:8]


def _short(name: str) -> str:
    cut = name.encode()[:54].decode(errors="ignore")
    return f"{cut}_{_sha8(name)}"


def _create(sf_conn: Any, table: str, columns: list[str]) -> None:
    cur = sf_conn.cursor()
    cols = ", ".join(f"{_q(c)} INT" for c in columns)
    cur.execute(f"CREATE OR REPLACE TABLE {_q(table)} ({cols})")
    cur.execute(
        f"INSERT INTO {_q(table)} VALUES ({', '.join(str(i) for i in range(len(columns)))})"
    )
    cur.close()


def _pg_columns(dsn: str, schema: str) -> dict[str, list[str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s ORDER BY table_name, ordinal_position",
            (schema,),
        ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def test_default_lower_case_shortening_and_plan_report(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    _create(sf_conn, "NAMES", COLUMNS)
    cfg = write_config(
        tmp_path / "c.json", make_config(sf_database, pg_database, [{"source": "NAMES"}])
    )
    planned = run_cli("plan", "--config", str(cfg), env=server_env)
    assert planned.returncode == 0, planned.stderr
    report = " ".join(planned.stdout.split())
    assert "table NAMES -> names [lower-cased]" in report
    assert "ID (NUMBER) -> id numeric(38,0) [lower-cased]" in report
    payer = next(line for line in planned.stdout.splitlines() if "Payer Id (" in line)
    assert payer.strip() == "Payer Id (NUMBER) -> Payer Id numeric(38,0)"  # unchanged: no tag
    assert f"-> {_short(LONG_UPPER.lower())[:54]}" in report or _sha8(LONG_UPPER) in report
    assert "[lower-cased, shortened to 63 bytes with a hash suffix]" in report
    assert f"{_short(LONG_MIXED)} numeric(38,0) [shortened to 63 bytes with a hash suffix]" in (
        report
    )

    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    expected = [
        "id",
        "Payer Id",
        _short(LONG_UPPER.lower()).replace(_sha8(LONG_UPPER.lower()), _sha8(LONG_UPPER)),
        _short(LONG_UPPER_2.lower()).replace(_sha8(LONG_UPPER_2.lower()), _sha8(LONG_UPPER_2)),
        _short(LONG_MIXED),
        "user",
        "select",
        "odd.char-$",
    ]
    assert _pg_columns(pg_dsn, "public") == {"names": expected}
    assert all(len(c.encode()) <= 63 for c in expected)
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute('SELECT id, "user", "select", "odd.char-$" FROM names').fetchone()
    assert row == (0, 5, 6, 7)


def test_preserve_keeps_snowflake_names(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    # (fakesnow cannot hold "ID" and "id" in one table: its column names ignore case)
    _create(sf_conn, "Names_P", ["ID", "MiXed", "Payer Id", "USER"])
    _create(sf_conn, "UPPER_T", ["ID"])
    config = make_config(
        sf_database,
        pg_database,
        [{"source": "Names_P"}, {"source": "UPPER_T"}],
        identifier_case="preserve",
    )
    cfg = write_config(tmp_path / "c.json", config)
    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _pg_columns(pg_dsn, "public") == {
        "Names_P": ["ID", "MiXed", "Payer Id", "USER"],
        "UPPER_T": ["ID"],
    }


def test_collision_is_refused_before_anything_is_written(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    _create(sf_conn, "FIRST", ["ID"])
    # A column named exactly like another one's shortened name: both map to one PostgreSQL name.
    # (The simpler "ID" + "id" clash cannot be built in fakesnow, whose column names ignore case;
    # tests/unit/test_naming.py covers it.)
    shortened = _short(LONG_UPPER.lower()).replace(_sha8(LONG_UPPER.lower()), _sha8(LONG_UPPER))
    _create(sf_conn, "CLASH", ["ID", LONG_UPPER, shortened])
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [{"source": "FIRST"}, {"source": "CLASH"}]),
    )
    for command in ("migrate",):  # plan runs the same planning (covered by the unit tests)
        result = run_cli(command, "--config", str(cfg), env=server_env)
        assert result.returncode == 2, result.stdout + result.stderr
        err = " ".join(result.stderr.split())
        assert "CLASH" in err and f'"{LONG_UPPER}" and "{shortened}"' in err, err
    with psycopg.connect(pg_dsn) as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = 'migration_status'"
        ).fetchall()
    assert schemas == [] and _pg_columns(pg_dsn, "public") == {}  # not even table FIRST

"""NUL characters (U+0000 in text, the ``\\u0000`` escape in JSON), which PostgreSQL text and jsonb
cannot hold: ``nul_policy`` fail (default) names table, column and chunk; strip and replace clean
the values and count them per column in the table's status metadata and the run summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.migration import make_config, run_cli, write_config

pytestmark = pytest.mark.integration

# id -> (S, V): row 2 and 4 have a raw NUL in S, rows 3 and 4 a \u0000 escape in the VARIANT.
ROWS = {
    1: ("'clean'", 'parse_json(\'{"s": "clean"}\')'),
    2: ("'a' || chr(0) || 'b'", 'parse_json(\'{"s": "x"}\')'),
    3: ("'ok'", 'parse_json(\'{"s": "c\\\\u0000d", "t": "\\\\\\\\u0000 is text"}\')'),
    4: ("chr(0) || 'e' || chr(0)", "parse_json('[\"\\\\u0000\"]')"),
    5: ("NULL", "NULL"),
}


def _create(sf_conn: Any, name: str) -> None:
    cur = sf_conn.cursor()
    cur.execute(f"CREATE OR REPLACE TABLE {name} (ID INT PRIMARY KEY, S VARCHAR, V VARIANT)")
    for row_id, (s, v) in ROWS.items():
        cur.execute(f"INSERT INTO {name} SELECT {row_id}, {s}, {v}")
    cur.close()


def _target(dsn: str, table: str) -> dict[int, tuple[Any, Any]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"SELECT id, s, v FROM public.{table} ORDER BY id").fetchall()
    return {int(r[0]): (r[1], r[2]) for r in rows}


def _status(dsn: str) -> dict[str, tuple[str, dict[str, Any]]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT source_table, status, metadata FROM migration_status.migration_table_status"
        ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_nul_policy_fail_then_strip_and_replace(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    _create(sf_conn, "NULS")
    _create(sf_conn, "NULS_R")
    tables = [{"source": "NULS"}, {"source": "NULS_R", "nul_policy": "replace:?"}]
    cfg = tmp_path / "c.json"
    # batch_size 2: several chunks, so the error must say which one.
    write_config(cfg, make_config(sf_database, pg_database, tables, batch_size=2))

    failed = run_cli("migrate", "--config", str(cfg), env=server_env)
    out = failed.stdout + failed.stderr
    assert failed.returncode == 1, out
    with psycopg.connect(pg_dsn) as conn:
        errors = conn.execute(
            "SELECT chunk_id, error_message FROM migration_status.migration_chunk_status "
            "WHERE status = 'failed' AND source_table = 'NULS' ORDER BY chunk_id"
        ).fetchall()
    assert errors, out
    for chunk_id, message in errors:
        assert f"table NULS chunk {chunk_id}" in message
        assert 'column "S"' in message or 'column "V"' in message
        assert "nul_policy" in message
    assert 'column "S"' in out and "NULS chunk" in out

    # Per-table replace: the same data loaded, every NUL became "?".
    replaced = _target(pg_dsn, "nuls_r")
    assert replaced[2][0] == "a?b" and replaced[4][0] == "?e?"
    assert replaced[3][1] == {"s": "c?d", "t": "\\u0000 is text"}  # an escaped backslash is text
    assert replaced[4][1] == ["?"] and replaced[1] == ("clean", {"s": "clean"})
    status = _status(pg_dsn)
    assert status["NULS_R"][0] == "completed"
    assert status["NULS_R"][1]["nul_fixed"] == {"S": 2, "V": 2}

    # Change the global policy: nul_policy is not in the configuration hash, so the run resumes.
    write_config(
        cfg, make_config(sf_database, pg_database, tables, batch_size=2, nul_policy="strip")
    )
    fixed = run_cli("migrate", "--config", str(cfg), env=server_env)
    out = fixed.stdout + fixed.stderr
    assert fixed.returncode == 0, out
    assert "resumed" in out
    stripped = _target(pg_dsn, "nuls")
    assert stripped == {
        1: ("clean", {"s": "clean"}),
        2: ("ab", {"s": "x"}),
        3: ("ok", {"s": "cd", "t": "\\u0000 is text"}),
        4: ("e", [""]),
        5: (None, None),
    }
    status = _status(pg_dsn)
    assert status["NULS"][0] == "completed"
    # Counted once per committed chunk: the failed attempts added nothing.
    assert status["NULS"][1]["nul_fixed"] == {"S": 2, "V": 2}
    assert "values cleaned of NUL characters (nul_policy): S 2, V 2" in " ".join(out.split())


def test_json_source_text_has_the_escape(sf_conn: Any) -> None:
    """Guards the fixture: the VARIANT really carries a JSON \\u0000 escape, not a raw NUL."""
    _create(sf_conn, "NULS_CHECK")
    cur = sf_conn.cursor()
    cur.execute("SELECT V FROM NULS_CHECK WHERE ID = 3")
    (text,) = cur.fetchone()
    cur.close()
    assert "\\u0000" in text and "\x00" not in text
    assert json.loads(text)["s"] == "c\x00d"

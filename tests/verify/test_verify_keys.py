"""snowpg verify on tables chunked by every kind of key: a clean copy matches, and one changed
VARIANT value and one changed timestamp are found on each, by key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.fixtures.migration import make_config, run_cli, write_config

pytestmark = pytest.mark.integration

ROWS = 60
COLUMNS = (
    "ID NUMBER(38,0), NAME VARCHAR, GRP VARCHAR, D DATE, TS TIMESTAMP_NTZ, TZ TIMESTAMP_TZ, "
    "LTZ TIMESTAMP_LTZ, AMT NUMBER(12,2), V VARIANT"
)
SELECT = (
    "seq4(), 'n' || lpad(to_varchar(seq4()), 4, '0'), 'g' || to_varchar(mod(seq4(), 3)), "
    "dateadd(day, seq4(), '1999-12-30'::date), "
    "dateadd(minute, seq4() * 7, '1969-12-31 23:00:00.123456'::timestamp_ntz), "
    "dateadd(second, seq4() * 11, '2021-06-01 12:00:00.5'::timestamp_tz), "
    "dateadd(second, seq4() * 13, '2022-03-01 08:00:00.25'::timestamp_ltz), "
    "(seq4() * 37 / 100)::number(12,2), "
    "iff(mod(seq4(), 7) = 3, null, parse_json('{\"k\": ' || seq4() || ', \"price\": ' "
    '|| (seq4() / 4)::number(10,2) || \', "nested": {"z": 1, "a": [2.50, "x", true, null, '
    '{"y": "é"}]}}\'))'
)
# table -> chunking_columns (None: the planner's choice; NOKEY has no key at all)
TABLES: dict[str, list[str] | None] = {
    "K_NUMBER": ["ID"],
    "K_TEXT": ["NAME"],
    "K_DATE": ["D"],
    "K_TS": ["TS"],
    "K_TZ": ["TZ"],
    "K_LTZ": ["LTZ"],
    "K_COMPOSITE": ["GRP", "ID"],
}


def _create(sf_conn: Any) -> None:
    cur = sf_conn.cursor()
    for name in TABLES:
        cur.execute(f"CREATE OR REPLACE TABLE {name} ({COLUMNS})")
        cur.execute(f"INSERT INTO {name} SELECT {SELECT} FROM TABLE(GENERATOR(ROWCOUNT => {ROWS}))")
    # No key of any orderable type: one whole-table chunk, rows keyed by their whole text.
    cur.execute("CREATE OR REPLACE TABLE NOKEY (F FLOAT, FLAG BOOLEAN, V VARIANT)")
    cur.execute(
        "INSERT INTO NOKEY SELECT seq4() / 8.0, mod(seq4(), 2) = 0, "
        "array_construct(seq4(), object_construct('b', 1, 'a', seq4())) "
        "FROM TABLE(GENERATOR(ROWCOUNT => 12))"
    )
    cur.close()


def _table_states(dsn: str) -> dict[str, tuple[str, dict[str, Any], str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT source_table, verify_status, verify_detail, metadata->>'chunking'"
            " FROM migration_status.migration_table_status"
        ).fetchall()
    return {r[0]: (r[1], r[2], str(r[3])) for r in rows}


def _chunk_keys(dsn: str, table: str) -> list[dict[str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT verify_detail FROM migration_status.migration_chunk_status"
            " WHERE source_table = %s AND verify_status <> 'match'",
            (table,),
        ).fetchall()
    return [k for (d,) in rows for k in d.get("keys", [])]


def test_every_key_type_verifies_clean_and_finds_a_changed_variant_and_timestamp(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    _create(sf_conn)
    tables: list[dict[str, Any]] = [
        {"source": name, **({"chunking_columns": cols} if cols else {})}
        for name, cols in TABLES.items()
    ]
    tables.append({"source": "NOKEY"})
    cfg = write_config(
        tmp_path / "c.json", make_config(sf_database, pg_database, tables, batch_size=16)
    )
    result = run_cli("migrate", "--config", str(cfg), "--verify", env=server_env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    n = len(TABLES) + 1
    assert f"{n} of {n} table(s) verified equal, 0 differing row(s)" in out, out
    with psycopg.connect(pg_dsn) as conn:
        chunks = dict(
            conn.execute(
                "SELECT source_table, count(*) FROM migration_status.migration_chunk_status"
                " WHERE verify_status = 'match' GROUP BY source_table"
            ).fetchall()
        )
    for name in TABLES:
        assert chunks[name] >= 4, (name, chunks)  # really chunked by its key: several chunks
    assert chunks["NOKEY"] == 1

    with psycopg.connect(pg_dsn) as conn:
        for name in TABLES:
            t = sql.Identifier("public", name.lower())
            # A VARIANT value changed inside a nested object, same length and key set.
            changed = conn.execute(
                sql.SQL("UPDATE {} SET v = jsonb_set(v, '{{nested,z}}', '2') WHERE id = 11").format(
                    t
                )
            )
            assert changed.rowcount == 1
            # A timestamp (not the chunking key) one microsecond off, in a row of another chunk.
            col = sql.Identifier("tz" if name == "K_TS" else "ts")
            conn.execute(
                sql.SQL("UPDATE {} SET {} = {} + interval '1 microsecond' WHERE id = 41").format(
                    t, col, col
                )
            )
        conn.execute('UPDATE public.nokey SET v = \'[5, {"a": 6, "b": 1}]\' WHERE f = 0.625')
    again = run_cli("verify", "--config", str(cfg), env=server_env)
    out = again.stdout + again.stderr
    assert again.returncode == 1, out
    assert f"0 of {n} table(s) verified equal, {2 * len(TABLES) + 1} differing row(s)" in out, out
    states = _table_states(pg_dsn)
    for name, cols in TABLES.items():
        status, detail, _chunking = states[name]
        assert status == "mismatch", (name, detail)
        assert (detail["missing"], detail["extra"], detail["changed"]) == (0, 0, 2), (name, detail)
        keys = sorted(k["key"] for k in _chunk_keys(pg_dsn, name))
        assert all(k["kind"] == "changed" for k in _chunk_keys(pg_dsn, name))
        assert len(keys) == 2, (name, keys)
        if cols == ["ID"]:
            assert keys == ["ID=11", "ID=41"]
        if cols == ["NAME"]:
            assert keys == ["NAME=n0011", "NAME=n0041"]
        if cols == ["GRP", "ID"]:
            assert keys == ["GRP=g2, ID=11", "GRP=g2, ID=41"]
    status, detail, _ = states["NOKEY"]
    assert status == "mismatch" and detail["changed"] == 1, detail

"""Verify at scale, through the Lambda handler: short invocations answer ``partial`` and the next
one continues; no chunk is read twice; a chunk copied again after its check is checked again; a
difference found by an early invocation is still reported by the last one."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from snowpg.aws.handler import lambda_handler
from snowpg.demo.servers import StandinServer
from snowpg.verify import compare
from tests.aws.harness import FakeContext
from tests.fixtures.migration import create_mixed_table, make_config, run_cli, write_config

pytestmark = pytest.mark.integration

BATCH = 50
PLAIN = {"ITEMS": 600, "PAYMENTS": 450}  # grouped checksums, server side
MIXED = ("ORDERS", 400)  # a VARIANT column: hashed on the client, one chunk per unit
GROUP = 3  # chunks per checksum query here, so a table takes several units


@pytest.fixture
def standin(fakesnow_server: Any) -> Iterator[StandinServer]:
    if not isinstance(fakesnow_server, StandinServer):
        pytest.fail("this test needs the stand-in (unset SNOWPG_TEST_SNOWFLAKE)")
    fakesnow_server.control(reset=True)
    yield fakesnow_server
    fakesnow_server.control(reset=True)


def _verify_queries(standin: StandinServer, since: int) -> list[str]:
    """The verification queries (checksums, row hashes, JSON rows) the stand-in received."""
    return [q for q in standin.queries(since) if "MD5(" in q]


def _invoke(event: dict[str, Any], seconds: float) -> dict[str, Any]:
    answer = lambda_handler(event, FakeContext(seconds))
    assert answer["statusCode"] in (200, 500), answer
    body: dict[str, Any] = answer["body"]
    return body


def _verify(budget: float, **event: Any) -> dict[str, Any]:
    return _invoke({"action": "verify", "source_name": "src", **event}, budget)


def _chunk_of(dsn: str, table: str, key: int) -> tuple[int, int, int]:
    """``(chunk_id, lower, upper)`` of the chunk of ``table`` holding key ``key``."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT chunk_id, chunk_range FROM migration_status.migration_chunk_status"
            " WHERE source_table = %s",
            (table,),
        ).fetchall()
    for chunk_id, rng in rows:
        lo, hi = rng.get("lower"), rng.get("upper")
        low, high = int(lo[0]) if lo else -(2**31), int(hi[0]) if hi else 2**31
        if low <= key < high:
            return int(chunk_id), low, high
    raise AssertionError(f"no chunk of {table} holds {key}")


def _recopy(dsn: str, cfg: Path, env: dict[str, str], table: str, key: int) -> int:
    """Copy again the chunk of ``table`` holding ``key``: as a chunk that failed (its rows rolled
    back) and that the resumed run retries. Returns its chunk id."""
    chunk, low, high = _chunk_of(dsn, table, key)
    with psycopg.connect(dsn) as conn:
        conn.execute(f"DELETE FROM public.{table.lower()} WHERE id >= %s AND id < %s", (low, high))
        conn.execute(
            "UPDATE migration_status.migration_chunk_status SET status = 'failed'"
            " WHERE source_table = %s AND chunk_id = %s",
            (table, chunk),
        )
        conn.execute(
            "UPDATE migration_status.migration_table_status SET status = 'failed'"
            " WHERE source_table = %s",
            (table,),
        )
        conn.execute("UPDATE migration_status.migration_runs SET status = 'failed'")
    done = run_cli("migrate", "--config", str(cfg), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return chunk


def _attempts(dsn: str, table: str, chunk: int) -> tuple[int, int]:
    """The chunk's claim attempts, and the attempts its recorded verification read."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT attempts, (verify_detail -> 'copy' ->> 'attempts')::int"
            " FROM migration_status.migration_chunk_status"
            " WHERE source_table = %s AND chunk_id = %s",
            (table, chunk),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_short_invocations_resume_skip_verified_chunks_and_recheck_a_recopied_one(
    standin: StandinServer,
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cur = sf_conn.cursor()
    for name, rows in PLAIN.items():
        cur.execute(
            f"CREATE TABLE {name} (ID NUMBER(9,0) PRIMARY KEY, NAME VARCHAR, P NUMBER(10,2))"
        )
        cur.execute(
            f"INSERT INTO {name} SELECT seq4(), 'n' || seq4(), seq4() / 4"
            f" FROM TABLE(GENERATOR(ROWCOUNT => {rows}))"
        )
    cur.close()
    create_mixed_table(sf_conn, *MIXED)
    tables = [{"source": t} for t in (*PLAIN, MIXED[0])]
    cfg = write_config(
        tmp_path / "c.json",
        make_config(
            sf_database, pg_database, tables, batch_size=BATCH, lambda_timeout_buffer_seconds=1
        ),
    )
    done = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert done.returncode == 0, done.stdout + done.stderr
    monkeypatch.setenv("SNOWPG_CONFIG", str(cfg))
    monkeypatch.setattr(compare, "CHUNKS_PER_QUERY", GROUP)
    chunks = {t: math.ceil(n / BATCH) for t, n in (*PLAIN.items(), MIXED)}
    total = sum(chunks.values())
    # One changed value in PAYMENTS (row count unchanged).
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE public.payments SET name = 'planted' WHERE id = 100")

    # Every query takes 0.4 s; an invocation has 4 s, 1 s of it the margin: a few units each.
    standin.control(latency_s=0.4)
    since = standin.stats()["queries"]
    answers = [_verify(4.0)]
    assert answers[0]["status"] == "partial" and answers[0]["deadline_hit"], answers[0]
    # ITEMS (verified first) chunk 0 is copied again between two calls: read again later.
    assert answers[0]["sources"][0]["tables"][0]["chunks"] > 0
    standin.control(latency_s=0.0)
    recopied = _recopy(pg_dsn, cfg, server_env, "ITEMS", 10)
    standin.control(latency_s=0.4)
    while answers[-1]["status"] == "partial":
        assert len(answers) < 25, answers[-1]["message"]
        answers.append(_verify(4.0))
    partial, last = answers[:-1], answers[-1]
    assert len(partial) >= 3, [a["message"] for a in answers]
    assert all(a["deadline_hit"] and "call again" in a["message"] for a in partial)
    assert all(a["chunks"]["verified_now"] > 0 for a in answers)  # every call made progress
    assert all(a["chunks"]["total"] == total for a in answers)
    assert partial[0]["chunks"]["remaining"] == total - partial[0]["chunks"]["verified"] > 0
    assert _attempts(pg_dsn, "ITEMS", recopied) == (2, 2)  # the new copy was verified
    # The last answer reports the whole run, the difference an early call found included.
    assert last["status"] == "failed" and not last["deadline_hit"], last["message"]
    assert last["chunks"]["verified"] == total and last["chunks"]["remaining"] == 0
    assert last["sources"][0]["differences"] == 1
    by_table = {t["source_table"]: t for t in last["sources"][0]["tables"]}
    assert by_table["PAYMENTS"]["status"] == "mismatch" and by_table["PAYMENTS"]["changed"] == 1
    assert by_table["ITEMS"]["status"] == by_table["ORDERS"]["status"] == "match"
    # No chunk read twice but the re-copied one: the calls together read total + 1 chunks, and
    # the stand-in saw one checksum query per group of GROUP chunks (one more for the re-copied
    # chunk), one row query per JSON chunk, one listing of the mismatching chunk's rows.
    assert sum(a["chunks"]["verified_now"] for a in answers) == total + 1
    expected = sum(math.ceil(chunks[t] / GROUP) for t in PLAIN) + 1 + chunks[MIXED[0]] + 1
    assert len(_verify_queries(standin, since)) == expected

    # That verification is finished: the next call starts over and reads every chunk (the
    # target may have changed since), here in one long invocation.
    again = _verify(120.0)
    assert again["status"] == "failed" and again["chunks"]["verified_now"] == total
    assert again["sources"][0]["differences"] == 1

    # reverify abandons an unfinished verification instead of continuing it.
    first = _verify(2.5)
    assert first["status"] == "partial" and first["chunks"]["verified_now"] < total
    full = _verify(120.0, reverify=True)
    assert full["status"] == "failed" and full["chunks"]["verified_now"] == total

"""Which run a repeated ``no_resume`` request continues (snowpg.status.fresh)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from snowpg.status import fresh, store
from snowpg.status.schema import ensure_schema

pytestmark = pytest.mark.integration

TOKEN = "a" * 64


@pytest.fixture
def conn(pg_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_dsn) as c:
        yield c


def _continue(conn: psycopg.Connection[Any], **kw: Any) -> Any:
    args: dict[str, Any] = {"no_resume": True, "token": TOKEN, "continues": True} | kw
    return fresh.run_to_continue(conn, "src", **args)


def test_only_a_continuing_call_of_the_same_request_resumes_its_fresh_run(
    conn: psycopg.Connection[Any],
) -> None:
    assert _continue(conn) is None  # no status schema yet: start fresh
    ensure_schema(conn)
    assert _continue(conn) is None  # no run yet (the first call never created it)
    run = store.create_run(
        conn, source_name="src", config_hash="h", created_by="t",
        metadata=fresh.metadata(True, TOKEN),
    )  # fmt: skip
    assert _continue(conn) == run
    assert _continue(conn, continues=False) is None  # a first call: a new execution
    assert _continue(conn, token="b" * 64) is None  # another request
    assert _continue(conn, no_resume=False) is None
    store.set_run_status(conn, run, "completed")
    assert _continue(conn) == run  # a timed-out call's run that completed meanwhile
    # Once another run is newer (a CLI --no-resume, another request), it is not continued.
    store.create_run(
        conn, source_name="src", config_hash="h", created_by="t",
        metadata=fresh.metadata(True, None),
    )  # fmt: skip
    assert _continue(conn) is None
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert fresh.metadata(False, TOKEN) == {} and fresh.metadata(True, None) == {}

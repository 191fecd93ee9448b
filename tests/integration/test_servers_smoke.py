"""The fixtures reach both real servers over their sockets."""

from __future__ import annotations

from typing import Any

import psycopg


def test_postgres_answers(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("select current_database(), 1 + 1").fetchone()
    assert row is not None and row[1] == 2 and row[0].startswith("t_")


def test_fakesnow_returns_arrow(sf_conn: Any) -> None:
    cur = sf_conn.cursor()
    cur.execute("create table T (ID int primary key, NAME varchar)")
    cur.execute("insert into T select seq4(), 'n' || seq4() from table(generator(rowcount => 10))")
    cur.execute("select ID, NAME from T order by ID")
    batches = list(cur.fetch_arrow_batches())
    assert sum(b.num_rows for b in batches) == 10
    assert batches[0].column(1).to_pylist()[:2] == ["n0", "n1"]

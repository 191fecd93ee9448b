"""snowpg.postgres.keys against a real PostgreSQL: adding a key, counting and dropping duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from snowpg.postgres import keys

pytestmark = pytest.mark.integration


@pytest.fixture
def conn(pg_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    c = psycopg.connect(pg_dsn)
    c.execute('CREATE TABLE public."T x" (id int, "Region" text, wm int, v text)')
    c.commit()
    yield c
    c.close()


def _rows(conn: psycopg.Connection[Any]) -> list[tuple[object, ...]]:
    return conn.execute(
        'SELECT id, "Region", wm, v FROM public."T x" ORDER BY 1, 2, 3, 4'
    ).fetchall()


def test_primary_key_is_added_once_and_refused_by_duplicates_or_nulls_without_harm(
    conn: psycopg.Connection[Any],
) -> None:
    conn.execute("""INSERT INTO public."T x" VALUES (1, 'EU', 1, 'a'), (2, 'EU', 1, 'b')""")
    assert keys.add_primary_key(conn, "public", "T x", ["id", "Region"])
    assert keys.add_primary_key(conn, "public", "T x", ["id", "Region"])  # already there
    assert keys.has_primary_key(conn, "public", "T x")
    conn.rollback()

    conn.execute("""INSERT INTO public."T x" VALUES (1, 'EU', 1, 'a'), (1, 'EU', 2, 'b')""")
    assert not keys.add_primary_key(conn, "public", "T x", ["id", "Region"])
    # The transaction is still usable after the refused ALTER (a savepoint took the error).
    assert len(_rows(conn)) == 2
    conn.rollback()

    conn.execute("""INSERT INTO public."T x" VALUES (1, NULL, 1, 'a')""")
    assert not keys.add_primary_key(conn, "public", "T x", ["id", "Region"])
    assert not keys.has_primary_key(conn, "public", "T x")


def test_duplicates_are_counted_with_null_keys_apart_and_samples_by_frequency(
    conn: psycopg.Connection[Any],
) -> None:
    conn.execute(
        """INSERT INTO public."T x" VALUES (1, 'EU', 1, 'a'), (1, 'EU', 2, 'b'), (1, 'EU', 3, 'c'),
        (2, 'US', 1, 'x'), (2, 'US', 1, 'y'), (3, 'EU', 1, 'z'), (4, NULL, 1, 'n'),
        (4, NULL, 1, 'm')"""
    )
    found = keys.find_duplicates(conn, "public", "T x", ["id", "Region"])
    assert found == keys.Duplicates(
        key_values=2, extra_rows=3, null_key_rows=2, samples=(("1", "EU"), ("2", "US"))
    )
    assert keys.create_key_index(conn, "public", "T x", ["id", "Region"]) == "T x_snowpg_key"
    assert keys.create_key_index(conn, "public", "T x", ["id", "Region"]) == "T x_snowpg_key"
    assert len(_rows(conn)) == 8  # nothing deleted


def test_drop_duplicates_keeps_the_greatest_watermark_then_the_greatest_row_text(
    conn: psycopg.Connection[Any],
) -> None:
    conn.execute(
        """INSERT INTO public."T x" VALUES (1, 'EU', 1, 'old'), (1, 'EU', 3, 'new'),
        (1, 'EU', NULL, 'none'), (2, 'EU', 5, 'tie a'), (2, 'EU', 5, 'tie b'), (3, 'EU', 1, 'one'),
        (4, NULL, 1, 'null key'), (4, NULL, 1, 'null key')"""
    )
    dropped = keys.drop_duplicates(conn, "public", "T x", ["id", "Region"], "wm")
    assert dropped == keys.Duplicates(key_values=2, extra_rows=3)
    assert _rows(conn) == [
        (1, "EU", 3, "new"),
        (2, "EU", 5, "tie b"),
        (3, "EU", 1, "one"),
        (4, None, 1, "null key"),  # NULL keys never conflict: left alone
        (4, None, 1, "null key"),
    ]
    assert keys.drop_duplicates(conn, "public", "T x", ["id", "Region"], "wm") == keys.Duplicates()
    keys.create_unique_index(conn, "public", "T x", ["id", "Region"])
    conn.commit()

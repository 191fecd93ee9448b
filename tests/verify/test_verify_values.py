"""Value rules of verification: JSON compared by content, the copy's nanosecond rounding rule
evaluated by the Snowflake engine, and a source connection that returns exact decimals."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from snowpg.config.load import load_settings
from snowpg.snowflake import session
from snowpg.snowflake.checksums import sf_micros_of_ns
from snowpg.snowflake.timestamps import floor_ns_to_us
from snowpg.verify import jsontext
from snowpg.verify.run import verify_source
from tests.fixtures.migration import make_config, run_cli, write_config


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ('{"b":1,"a":[2.50,1e300]}', '{"a": [2.5, 1.000000000000000e+300], "b": 1}'),
        ('{"k": -0.0}', '{"k": 0}'),
        ("[1, 2.0, 300]", "[1.00, 2, 3e2]"),
        ('{"z": {"y": "é", "x": null}}', {"z": {"x": None, "y": "é"}}),
        ('"text"', '"text"'),
        ("true", True),
    ],
)
def test_same_json_content_has_one_canonical_text(a: Any, b: Any) -> None:
    assert jsontext.canonical(a) == jsontext.canonical(b)
    assert jsontext.row_hash("abc", [a]) == jsontext.row_hash("abc", [b])


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ('{"k": 1}', '{"k": "1"}'),  # a number is not a string
        ('{"k": 1}', '{"k": 1.0000000000000000000001}'),  # exact, not a float compare
        ("[1, 2]", "[2, 1]"),  # array order matters
        ('{"a": {"b": 1}}', '{"a": {"b": 1, "c": null}}'),  # a null member is a member
        ("null", None),  # JSON null is not SQL NULL
        ("true", "1"),
        ('"x"', "x"),  # not JSON: compared as raw text, still different
    ],
)
def test_different_json_content_differs(a: Any, b: Any) -> None:
    assert jsontext.canonical(a) != jsontext.canonical(b)
    assert jsontext.row_hash("abc", [a]) != jsontext.row_hash("abc", [b])


def test_row_hash_depends_on_the_sql_part_and_on_which_column_holds_what() -> None:
    assert jsontext.row_hash("abc", ["1"]) != jsontext.row_hash("abd", ["1"])
    assert jsontext.row_hash("abc", ["1", None]) != jsontext.row_hash("abc", [None, "1"])
    assert 0 <= jsontext.row_hash("abc", ['{"a": 1}']) < 2**60


@pytest.mark.integration
def test_snowflake_floors_nanoseconds_by_the_copys_rule(sf_conn: Any) -> None:
    """The engine evaluates the verify SQL for edge and random values exactly as the reader's
    rule (snowpg.snowflake.timestamps.floor_ns_to_us) floors them."""
    rng = random.Random(13)
    values = [0, 499, 500, 501, 1500, 2500, 999_999_499, 999_999_500, 999_999_999, 123_456_789]
    values += [rng.randrange(1_000_000) * 1000 + 500 for _ in range(20)]
    values += [rng.randrange(1_000_000_000) for _ in range(20)]
    query = " UNION ALL ".join(
        f"SELECT {i} AS i, {sf_micros_of_ns(str(ns))} AS us" for i, ns in enumerate(values)
    )
    cur = sf_conn.cursor()
    cur.execute(f"SELECT i, us FROM ({query}) ORDER BY i")
    got = [int(us) for _i, us in cur.fetchall()]
    assert got == [floor_ns_to_us(v) for v in values]
    assert got[:6] == [0, 0, 0, 0, 1, 2]  # floored, never rounded up


@pytest.mark.integration
def test_verify_with_exact_decimals_from_the_source(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A source session returning Decimal (``arrow_number_to_decimal``) verifies the same."""
    cur = sf_conn.cursor()
    cur.execute(
        "CREATE OR REPLACE TABLE MONEY (ID NUMBER(38,0) PRIMARY KEY, AMT NUMBER(12,2), "
        "BIG NUMBER(38,10), DOC VARIANT)"
    )
    cur.execute(
        "INSERT INTO MONEY SELECT CAST('9223372036854775000' AS NUMBER(38,0)) + seq4(), "
        "(seq4() * 37 / 100)::number(12,2), "
        "CAST('123456789012345678.0123456789' AS NUMBER(38,10)) + seq4(), "
        "parse_json('{\"amt\": 12345.0123456789}') "
        "FROM TABLE(GENERATOR(ROWCOUNT => 40))"
    )
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [{"source": "MONEY"}], batch_size=10),
    )
    migrated = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    plain = session.connection_params

    def exact(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**plain(*args, **kwargs), "arrow_number_to_decimal": True}

    monkeypatch.setattr(session, "connection_params", exact)
    settings = load_settings(cfg)
    (source,) = settings.sources
    report = verify_source(settings, source)
    assert report.exit_code == 0, [c.detail() for t in report.tables for c in t.chunks]
    assert report.tables[0].source_rows == 40
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "UPDATE public.money SET big = big + 0.0000000001 WHERE id = %s",
            (Decimal(9223372036854775005),),
        )
    report = verify_source(settings, source)
    assert report.exit_code == 1
    keys = [k["key"] for t in report.tables for c in t.chunks for k in c.keys]
    assert keys == ["ID=9223372036854775005"]

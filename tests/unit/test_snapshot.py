"""One snapshot per run: every source query of a chunk carries the run's AT(TIMESTAMP => ...),
the point is checked before it is spliced into SQL, retention is judged as documented, and the
stand-in strips the clause (fakesnow cannot run it) and refuses an expired point. No server."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import snowflake.connector.errors as sf_errors

from snowpg.checksum_spec import ChecksumSpec, VerifyColumn
from snowpg.config import parse_settings
from snowpg.contract import TableContract
from snowpg.demo.standin import timetravel as standin_tt
from snowpg.errors import RunRefused, SnapshotExpired, TransientError
from snowpg.model import ChunkRange, ColumnMapping, Snapshot, SourceColumn, SourceTable, TablePlan
from snowpg.plan import snapshot
from snowpg.run.jobs import jobs_for
from snowpg.snowflake import checksums, statements, watermarks
from snowpg.snowflake.errors import translate_sf_error
from snowpg.status.rows import TableKey, TableRow

POINT = Snapshot("2026-12-03 08:04:29.123456789")
CLAUSE = "AT(TIMESTAMP => '2026-12-03 08:04:29.123456789 +0000'::TIMESTAMP_LTZ)"
REF = '"ANALYTICS"."BI"."Orders"'
LIVE = SourceTable(
    database="ANALYTICS",
    schema="BI",
    name="Orders",
    columns=(
        SourceColumn("ID", "NUMBER", 38, 0),
        SourceColumn("Payer Id", "TEXT"),
        SourceColumn("UPDATED", "TIMESTAMP_NTZ"),
    ),
    primary_key=("ID",),
    retention_days=1,
)
AT = snapshot.at_point(LIVE, POINT)
RANGE = ChunkRange(columns=("ID",), types=("NUMBER(38,0)",), lower=("10",), upper=("20",))


def _spec(src: SourceTable) -> ChecksumSpec:
    cols = (VerifyColumn("ID", "id", "NUMBER(38,0)"), VerifyColumn("Payer Id", "payer", "VARCHAR"))
    return ChecksumSpec(src, "ID > 0", "public", "orders", cols)


def _queries(src: SourceTable) -> dict[str, str]:
    """Every source query a chunk of ``src`` (and its verification) can send, by name."""
    spec = _spec(src)
    return {
        "select_chunk": statements.select_chunk_sql(src, ["ID", "Payer Id"], None, RANGE)[0],
        # delete checks (copy/upsert.delete_chunk) read the chunk's keys through select_chunk_sql
        "delete_check_keys": statements.select_chunk_sql(src, ["ID"], "ID > 0", RANGE)[0],
        "count": statements.count_sql(src, None, RANGE)[0],
        "checksums": checksums.sf_checksums(spec, [(1, RANGE), (2, RANGE)])[0],
        "checksum": checksums.sf_checksum(spec, RANGE)[0],
        "rows": checksums.sf_rows(spec, RANGE)[0],
        "row_hashes": checksums.sf_row_hashes(spec, RANGE)[0],
        "high_watermark": watermarks.high_watermark_query(src, "UPDATED", "ID > 0"),
        "key_stats": statements.key_stats_sql(src, ["ID"], ["NUMBER(38,0)"], None)[0],
        "key_sample": statements.key_sample_sql(src, ["ID"], ["NUMBER(38,0)"], None, 50)[0],
        "block_sample": statements.key_sample_sql(src, ["ID"], ["NUMBER(38,0)"], None, 50, 2.5)[0],
        "distinct": statements.sample_distinct_sql(src, ["ID"], None, 1000)[0],
        "row_width": statements.row_width_sql(src, ["Payer Id"], 8, None, 100)[0],
    }


@pytest.mark.parametrize("name", sorted(_queries(AT)))
def test_every_source_query_reads_at_the_snapshot(name: str) -> None:
    at_text = _queries(AT)[name]
    # The clause follows the table name directly, once per reference to the table.
    assert at_text.count(f"{REF} {CLAUSE}") == at_text.count(REF) >= 1
    live_text = _queries(LIVE)[name]
    assert "AT(" not in live_text
    assert at_text.replace(f" {CLAUSE}", "") == live_text


def test_snapshot_text_is_checked_before_it_reaches_sql() -> None:
    for bad in ("2026-12-03 08:04:29' OR 1=1 --", "2026-12-03", "now", "2026-12-03 8:04:29"):
        with pytest.raises(ValueError, match="snapshot timestamp"):
            Snapshot(bad)
    assert Snapshot.from_json({"timestamp": POINT.timestamp}) == POINT
    assert Snapshot.from_json(None) is None and Snapshot.from_json({}) is None
    assert POINT.taken_at == datetime(2026, 12, 3, 8, 4, 29, 123456, tzinfo=UTC)
    hour_later = datetime(2026, 12, 3, 9, 4, 29, tzinfo=UTC)
    assert Snapshot("2026-12-03 08:04:29").age_seconds(hour_later) == 3600.0
    assert statements.at_clause(POINT) == CLAUSE


def test_retention_covers_age_plus_margin() -> None:
    taken = POINT.taken_at
    hour = timedelta(hours=1)
    assert snapshot.retention_problem(LIVE, POINT, taken + 22 * hour) is None
    late = snapshot.retention_problem(LIVE, POINT, taken + 23.5 * hour)
    assert late is not None
    assert "ANALYTICS.BI.Orders" in late and "DATA_RETENTION_TIME_IN_DAYS = 1" in late
    assert "23.5 h old" in late
    none = snapshot.retention_problem(
        SourceTable("D", "S", "T", (), retention_days=0), POINT, taken
    )
    assert none is not None and "no Time Travel" in none
    unknown = SourceTable("D", "S", "T", ())
    assert snapshot.retention_problem(unknown, POINT, taken + 1000 * hour) is None
    week = SourceTable("D", "S", "T", (), retention_days=7)
    assert snapshot.retention_problem(week, POINT, taken + 100 * hour) is None


def test_check_retention_refuses_with_one_line_and_the_hint() -> None:
    late = POINT.taken_at + timedelta(hours=30)
    with pytest.raises(RunRefused) as info:
        # retention_days is known and does not cover: asked again in Snowflake, which this
        # test replaces by saying nothing new (no such table answered)
        snapshot.check_retention(POINT, [LIVE], now=late, current=lambda _t: {})
    text = str(info.value)
    assert "\n" not in text
    assert "ANALYTICS.BI.Orders keeps 1 day(s) of Time Travel" in text
    assert "ALTER TABLE" in text and "--no-resume" in text and '"snapshot": "none"' in text
    # Raised since it was planned: the fresh answer decides.
    snapshot.check_retention(POINT, [LIVE], now=late, current=lambda _t: {"ANALYTICS.BI.Orders": 3})
    # No snapshot (a run started with "snapshot": "none"): nothing to check, nothing asked.
    snapshot.check_retention(None, [LIVE], now=late, current=_never)


def _never(_tables: Any) -> dict[str, int]:
    raise AssertionError("Snowflake asked although nothing needs it")


def test_retention_known_and_covering_asks_nothing() -> None:
    soon = POINT.taken_at + timedelta(hours=2)
    snapshot.check_retention(POINT, [LIVE], now=soon, current=_never)


def test_unknown_retention_is_asked_only_past_the_proven_day() -> None:
    """A table planned at the point has at least 1 day (0 refuses AT reads): a younger run asks
    nothing (a resumed run's catalog budget), an older one asks Snowflake."""
    unknown = dataclasses.replace(LIVE, retention_days=None)
    young = POINT.taken_at + timedelta(hours=20)
    snapshot.check_retention(POINT, [unknown], now=young, current=_never)
    asked: list[list[str]] = []

    def current(tables: Any) -> dict[str, int]:
        asked.append([t.qualified for t in tables])
        return {"ANALYTICS.BI.Orders": 2}

    old = POINT.taken_at + timedelta(hours=30)
    snapshot.check_retention(POINT, [unknown], now=old, current=current)
    assert asked == [["ANALYTICS.BI.Orders"]]
    with pytest.raises(RunRefused, match="keeps 2 day"):
        later = POINT.taken_at + timedelta(hours=48)
        snapshot.check_retention(POINT, [unknown], now=later, current=current)
    # A table the catalog says keeps no Time Travel is refused at once (asked again: still 0).
    zero = dataclasses.replace(LIVE, retention_days=0)
    with pytest.raises(RunRefused, match="no Time Travel"):
        snapshot.check_retention(POINT, [zero], now=POINT.taken_at, current=lambda _t: {})


def test_snapshot_none_setting_reads_live() -> None:
    settings = parse_settings(_config(snapshot="none"), _ENV)
    assert settings.snapshot == "none"
    assert snapshot.run_point(settings, None, _never) is None
    assert parse_settings(_config(), _ENV).snapshot == "run"


def test_copy_jobs_of_a_resumed_run_read_at_its_point() -> None:
    """A worker process (a Lambda fan-out worker, a second CLI process) builds its jobs from the
    status rows' contracts and the run's point: every chunk query then carries the clause."""
    settings = parse_settings(_config(), _ENV)
    source = settings.sources[0]
    plan = TablePlan(
        source_name="src",
        source=LIVE,
        target_database="db",
        target_schema="public",
        target_table="orders",
        mappings=(ColumnMapping("ID", "id", "NUMBER", "numeric"),),
        chunks=(),
        create_target=True,
    )
    contract = TableContract.from_plan(plan)
    assert TableContract.from_json(contract.to_json()) == contract  # retention_days kept
    assert contract.source.retention_days == 1
    key = TableKey(uuid.uuid4(), "ANALYTICS", "BI", "ORDERS")
    row = TableRow(
        key, "src", "db", "public", "orders", "in_progress", 3, 1, 0, 0, False, False, None,
        contract.to_json(), None, None, None,
    )  # fmt: skip
    jobs, _limits = jobs_for(settings, source, source.tables, [row], {}, POINT)
    query = statements.select_chunk_sql(jobs[key].source, ["ID"], None, RANGE)[0]
    assert f"{REF} {CLAUSE}" in query
    live, _ = jobs_for(settings, source, source.tables, [row], {}, None)
    assert "AT(" not in statements.select_chunk_sql(live[key].source, ["ID"], None, RANGE)[0]


def test_time_travel_error_is_terminal_snapshot_expired() -> None:
    exc = sf_errors.ProgrammingError(
        msg="Time travel data is not available for table ORDERS. The requested time is either "
        "beyond the allowed time travel period or before the object creation time.",
        errno=707,
        sqlstate="02000",
    )
    err = translate_sf_error(exc, context="reading table ORDERS chunk 3")
    assert isinstance(err, SnapshotExpired) and not isinstance(err, TransientError)
    assert "ORDERS" in err.message and err.hint is not None and "--no-resume" in err.hint


# --- the stand-in -------------------------------------------------------------------------


def test_standin_strips_the_clause_and_reads_its_point() -> None:
    sql = f"SELECT COUNT(*) FROM {REF} {CLAUSE} WHERE (TRUE)"
    stripped, travels = standin_tt.strip_clauses(sql)
    assert stripped == f"SELECT COUNT(*) FROM {REF} WHERE (TRUE)"
    assert [(t.table, t.kind, t.point) for t in travels] == [
        ("Orders", "TIMESTAMP", POINT.taken_at)
    ]
    other = "SELECT * FROM db.s.t AT(TIMESTAMP => '2024-01-06 07:27:41.874 -0800'::TIMESTAMP_LTZ)"
    stripped, travels = standin_tt.strip_clauses(other)
    assert stripped == "SELECT * FROM db.s.t"
    assert travels[0].table == "T"
    assert travels[0].point == datetime(2024, 1, 6, 15, 27, 41, 874000, tzinfo=UTC)
    by_id = "SELECT * FROM t BEFORE(STATEMENT => '8e5d0ca9-005e-44e6-b858-a8f5b37c5726') x"
    assert standin_tt.strip_clauses(by_id)[0] == "SELECT * FROM t x"
    # "AT" as an ordinary name is left alone
    assert standin_tt.strip_clauses('SELECT "AT" FROM t')[1] == []


def test_standin_refuses_a_point_past_its_retention() -> None:
    _sql, travels = standin_tt.strip_clauses(f"SELECT 1 FROM {REF} {CLAUSE}")
    taken = POINT.taken_at
    assert standin_tt.refusal(travels, 60.0, taken + timedelta(seconds=59)) is None
    code, message = standin_tt.refusal(travels, 60.0, taken + timedelta(seconds=61)) or ("", "")
    assert code == "000707"
    assert message.startswith("Time travel data is not available for table Orders.")


_ENV = {
    "SNOWFLAKE_ACCOUNT": "xy12345",
    "SNOWFLAKE_USER": "loader",
    "SNOWFLAKE_PASSWORD": "pw",
    "POSTGRES_HOST": "localhost",
    "POSTGRES_USER": "u",
    "POSTGRES_PASSWORD": "p",
}


def _config(**top: Any) -> dict[str, Any]:
    return {
        "sources": [
            {
                "source_name": "src",
                "source_sf_database": "ANALYTICS",
                "source_sf_schema": "BI",
                "target_pg_database": "db",
                "target_pg_schema": "public",
                "tables": [{"source": "ORDERS"}],
            }
        ],
        **top,
    }

"""Source keys Snowflake does not enforce: what a created table is owed, how findings read, the
error of a chunk that breaks an existing target's key, the stand-in's catalog-only keys."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from snowpg.aws.actions import summary_json
from snowpg.demo.standin import keys as standin_keys
from snowpg.errors import TargetError
from snowpg.model import ColumnMapping, SourceColumn, SourceTable, TablePlan
from snowpg.postgres.connection import translate_pg_error
from snowpg.postgres.keys import index_name
from snowpg.run.keys import deferred_key
from snowpg.run.options import RunSummary, TableSummary
from snowpg.status import keyreport


def _plan(**changes: Any) -> TablePlan:
    source = SourceTable(
        "DB",
        "PUBLIC",
        "EVENTS",
        (SourceColumn("ID", "NUMBER", 38, 0), SourceColumn("Updated At", "TIMESTAMP_NTZ")),
        primary_key=("ID",),
    )
    base: dict[str, Any] = {
        "source_name": "src",
        "source": source,
        "target_database": "pg",
        "target_schema": "public",
        "target_table": "events",
        "mappings": (
            ColumnMapping("ID", "id", "NUMBER", "numeric(38,0)"),
            ColumnMapping("Updated At", "changed", "TIMESTAMP_NTZ", "timestamp"),
        ),
        "chunks": (),
        "create_target": True,
        "target_primary_key": ("id",),
    }
    base.update(changes)
    return TablePlan(**base)


def test_a_created_full_load_table_owes_its_primary_key() -> None:
    assert deferred_key(_plan()) == {
        "primary_key": ["id"],
        "upsert_keys": [],
        "watermark": None,
        "done": False,
    }


def test_a_created_upserted_table_owes_its_upsert_key_and_names_the_target_watermark() -> None:
    inc = {"target_keys": ["id"], "watermark_column": "Updated At", "initial": True}
    owed = deferred_key(_plan(incremental=inc, target_primary_key=()))
    assert owed == {"primary_key": [], "upsert_keys": ["id"], "watermark": "changed", "done": False}


@pytest.mark.parametrize(
    "changes",
    [{"create_target": False}, {"target_primary_key": ()}],
    ids=["existing target", "no key"],
)
def test_nothing_is_owed_by_an_existing_target_or_a_table_without_a_key(
    changes: dict[str, Any],
) -> None:
    assert deferred_key(_plan(**changes)) is None


def test_index_names_fit_postgres_even_for_long_multibyte_table_names() -> None:
    name = index_name("é" * 40, "snowpg_keys")
    assert len(name.encode()) <= 63 and name.endswith("_snowpg_keys")
    assert index_name("orders", "snowpg_key") == "orders_snowpg_key"


def test_findings_read_with_names_and_counts() -> None:
    meta = {
        "duplicate_keys": {
            "columns": ["region", "id"],
            "key_values": 1234,
            "extra_rows": 2000,
            "null_key_rows": 3,
            "samples": [["EU", "7"], [None, "9"]],
            "index": "events_snowpg_key",
        },
        "deduplicated": {
            "columns": ["id"],
            "key_values": 2,
            "dropped_rows": 5,
            "rule": keyreport.keep_rule("changed"),
        },
    }
    assert keyreport.notes(meta) == [
        "duplicate source key (region, id): 1,234 key value(s) held by more than one row "
        "(2,000 extra row(s)), e.g. (EU, 7), (NULL, 9); 3 row(s) with a NULL key; every row "
        "loaded, non-unique index events_snowpg_key instead of the primary key",
        'duplicate upsert key (id): 5 row(s) dropped, one kept per key (greatest "changed" kept, '
        "ties by row text)",
    ]
    assert keyreport.notes({"nul_fixed": {"a": 1}}) == []


class _Diag:
    message_detail = "Key (id)=(7) already exists."
    constraint_name = "events_pkey"
    table_name = "events"
    schema_name = "public"


class _UniqueViolation(Exception):
    sqlstate = "23505"
    diag = _Diag()


def test_a_unique_violation_names_the_key_the_reason_and_the_fixes() -> None:
    exc = _UniqueViolation('duplicate key value violates unique constraint "events_pkey"')
    err = translate_pg_error(exc, context="writing table EVENTS chunk 3")
    assert isinstance(err, TargetError)
    assert err.message == (
        "writing table EVENTS chunk 3: duplicate key value violates unique constraint "
        '"events_pkey" (SQLSTATE 23505): Key (id)=(7) already exists.'
    )
    assert err.hint is not None
    assert "Snowflake does not enforce PRIMARY KEY or UNIQUE" in err.hint
    assert "(events_pkey on public.events)" in err.hint
    assert "let snowpg create it" in err.hint and "uniqueness_columns" in err.hint


def test_other_errors_get_no_key_hint() -> None:
    class _Other(Exception):
        sqlstate = "23502"

    err = translate_pg_error(_Other("null value in column"), context="writing")
    assert err.hint is None


def _fakesnow(sql_seen: list[str]) -> Any:
    """A fakesnow that lists one real key (OTHER.ID) for SHOW and echoes any other statement."""

    def upstream(body: dict[str, Any]) -> dict[str, Any]:
        sql_seen.append(body["sqlText"])
        rowtype = [{"name": n} for n in ("created_on", "database_name", "schema_name",
                                          "table_name", "column_name", "key_sequence",
                                          "constraint_name", "rely", "comment")]  # fmt: skip
        rows = [["x", "DB1", "PUBLIC", "OTHER", "ID", "1", "other_pkey", "false", None]]
        if body["sqlText"].upper().startswith("SHOW"):
            return {"success": True, "data": {"rowtype": rowtype, "rowset": rows}}
        return {"success": True, "data": {"rowtype": rowtype, "rowset": []}}

    return upstream


def test_the_standin_lists_declared_keys_beside_real_ones_for_a_schema_or_a_table() -> None:
    seen: list[str] = []
    declared = {"My T": ["B", "A"]}
    body = {"sqlText": 'SHOW PRIMARY KEYS IN SCHEMA "DB1".PUBLIC', "other": 1}
    standin_keys.run(body, _fakesnow(seen), declared)
    show, select = seen
    assert show == body["sqlText"]
    assert "('x', 'DB1', 'PUBLIC', 'OTHER', 'ID', '1', 'other_pkey', 'false', " in select
    assert "'DB1', 'PUBLIC', 'My T', 'B', '1', 'my t_pkey'" in select
    assert "'DB1', 'PUBLIC', 'My T', 'A', '2', 'my t_pkey'" in select
    assert select.endswith(
        'AS v("created_on", "database_name", "schema_name", "table_name", "column_name", '
        '"key_sequence", "constraint_name", "rely", "comment")'
    )

    seen.clear()
    standin_keys.run(
        {"sqlText": 'SHOW PRIMARY KEYS IN TABLE DB1.PUBLIC."My T"'}, _fakesnow(seen), declared
    )
    assert "'OTHER'" in seen[1] and "'My T', 'A', '2'" in seen[1]
    seen.clear()
    standin_keys.run(
        {"sqlText": "SHOW PRIMARY KEYS IN TABLE DB1.PUBLIC.OTHER"}, _fakesnow(seen), declared
    )
    assert seen == ["SHOW PRIMARY KEYS IN TABLE DB1.PUBLIC.OTHER"]  # nothing declared: as it is
    assert standin_keys.name_parts('"a""b".c."D e"') == ['a"b', "C", "D e"]


def test_the_lambda_answer_carries_the_findings_of_each_table() -> None:
    found = {"columns": ["id"], "key_values": 2, "extra_rows": 4, "index": "events_snowpg_key"}
    tables = [
        TableSummary("EVENTS", "public.events", "completed", 2, 2, 0, 2004, 2004, 1.0,
                     duplicate_keys=found),
        TableSummary("CLEAN", "public.clean", "completed", 2, 2, 0, 2000, 2000, 1.0),
    ]  # fmt: skip
    summary = RunSummary("src", uuid.uuid4(), "completed", False, tables, 4004, 1.0, 0, [])
    answer = summary_json(summary)
    assert answer["tables"][0]["duplicate_keys"] == found
    assert "duplicate_keys" not in answer["tables"][1]

"""The per-table load contract survives the trip through the status row's JSONB metadata."""

from __future__ import annotations

import json
from typing import Any

import pytest

from snowpg.contract import SavedIndex, TableContract
from snowpg.model import ColumnMapping, SourceColumn, SourceTable, TablePlan

COLUMNS = (
    SourceColumn("ID", "NUMBER", 38, 0, nullable=False, position=1),
    SourceColumn('Payer "Id" ñ', "TEXT", length=30, position=2),
    SourceColumn("AMOUNT", "NUMBER", 38, 10, position=3),
    SourceColumn("Créé à", "TIMESTAMP_TZ", scale=9, position=4),
    SourceColumn("PAYLOAD", "VARIANT", position=5),
)
MAPPINGS = (
    ColumnMapping("ID", "id", "NUMBER", "numeric(38,0)"),
    ColumnMapping('Payer "Id" ñ', 'payer "id" ñ', "TEXT", "varchar(30)"),
    ColumnMapping("AMOUNT", "amount", "NUMBER", "numeric(38,10)"),
    ColumnMapping("Créé à", "créé à", "TIMESTAMP_TZ", "timestamp with time zone"),
    ColumnMapping("PAYLOAD", "payload", "VARIANT", "jsonb"),
)
INCREMENTAL: dict[str, Any] = {
    "watermark_column": "Créé à",
    "watermark_type": "TIMESTAMP_TZ",
    "low": "2026-01-01 00:00:00.000000000 +0000",
    "high": "2026-02-01 00:00:00.123456789 +0100",
    "source_keys": ["ID"],
    "target_keys": ["id"],
    "insert_only": False,
    "initial": False,
    "base_filter": '"Payer ""Id"" ñ" <> \'x\'',
    "delete_mode": "flag",
    "flag_column": "is_deleted",
    "delete_from": 7,
}


def _plan(**changes: Any) -> TablePlan:
    src = SourceTable(
        "DB ONE", "My Schema", 'Odd "Table" ü', COLUMNS, primary_key=("ID",), row_count=123
    )
    base: dict[str, Any] = {
        "source_name": "src",
        "source": src,
        "target_database": "pg",
        "target_schema": "public",
        "target_table": 'odd "table" ü',
        "mappings": MAPPINGS,
        "chunks": (),
        "create_target": False,
        "truncate_onstart": True,
        "skipped_source_columns": ("EXTRA",),
        "unfilled_target_columns": ("loaded_at",),
        "source_filter": '"AMOUNT" > 0 AND "Payer ""Id"" ñ" LIKE \'%é%\'',
        "nul_policy": "replace:?",
        "copy_format": "csv",
    }
    return TablePlan(**(base | changes))


def _round_trip(contract: TableContract) -> TableContract | None:
    return TableContract.from_json(json.loads(json.dumps(contract.to_json())))


@pytest.mark.parametrize("incremental", [None, INCREMENTAL], ids=["full", "incremental"])
def test_contract_round_trips_through_json(incremental: dict[str, Any] | None) -> None:
    saved = (SavedIndex("ix é", 'CREATE INDEX "ix é" ON public."odd ""table"" ü" (amount)'),)
    contract = TableContract.from_plan(_plan(incremental=incremental), saved)
    back = _round_trip(contract)
    assert back == contract
    assert back is not None
    assert back.load_mode == ("full" if incremental is None else "incremental")
    amount = back.source.column("AMOUNT")
    assert amount is not None and amount.sql_type == "NUMBER(38,10)"
    assert back.source.column("Créé à") == COLUMNS[3]
    assert back.source.qualified == 'DB ONE.My Schema.Odd "Table" ü'
    assert back.saved_indexes == saved


def test_contract_keeps_the_keys_earlier_readers_use() -> None:
    data = TableContract.from_plan(_plan(incremental=INCREMENTAL)).to_json()
    assert data["columns"] == [[m.source, m.target] for m in MAPPINGS]
    assert data["source_filter"] == _plan().source_filter
    assert data["incremental"] == INCREMENTAL
    assert data["created_target"] is False and data["truncated"] is True
    assert data["skipped_source_columns"] == ["EXTRA"]
    assert data["unfilled_target_columns"] == ["loaded_at"]
    assert "saved_indexes" not in data  # written only when indexes were dropped


def test_contract_leaves_out_the_planning_row_count() -> None:
    # The estimate is a plan-time figure, not part of what the run loads.
    back = _round_trip(TableContract.from_plan(_plan()))
    assert back is not None and back.source.row_count is None


def test_a_row_written_without_a_contract_reads_as_none() -> None:
    old = {
        "ordinal": 0,
        "created_target": True,
        "truncated": False,
        "columns": [["ID", "id"]],
        "skipped_source_columns": [],
        "unfilled_target_columns": [],
        "source_filter": None,
    }
    assert TableContract.from_json(old) is None

"""The run's window of an incremental table (plan.watermark.window_for), with the adapters' and
status's reads replaced: the planner's one ``plan_table`` filters its chunks by it."""

from __future__ import annotations

from typing import Any

import pytest

from snowpg.config import SourceConfig, TableConfig
from snowpg.errors import RunRefused
from snowpg.model import SourceColumn, SourceTable
from snowpg.plan import watermark

SRC = SourceTable("DB", "S", "T", (SourceColumn("ID", "NUMBER"), SourceColumn("W", "NUMBER")))


def _source(table: TableConfig) -> SourceConfig:
    return SourceConfig(
        source_name="s",
        source_sf_database="DB",
        source_sf_schema="S",
        target_pg_database="d",
        target_pg_schema="public",
        tables=[table],
    )


def _reads(monkeypatch: pytest.MonkeyPatch, *, empty: bool, recorded: str | None) -> None:
    def is_empty(pg: Any, schema: str, table: str) -> bool:
        return empty

    def recorded_high(pg: Any, source_name: str, table: str, column: str) -> str | None:
        return recorded

    def high(sf: Any, src: SourceTable, column: str, source_filter: str | None) -> str | None:
        return "9"

    monkeypatch.setattr(watermark, "table_is_empty", is_empty)
    monkeypatch.setattr(watermark, "recorded_high", recorded_high)
    monkeypatch.setattr(watermark, "high_watermark", high)


def test_a_first_load_copies_up_to_the_source_high(monkeypatch: pytest.MonkeyPatch) -> None:
    _reads(monkeypatch, empty=True, recorded=None)
    table = TableConfig(source="T", source_watermark="W", source_filter="ID > 0")
    window = watermark.window_for(None, None, _source(table), table, SRC)
    assert window.initial and window.low is None and window.high == "9"
    assert (
        window.source_filter
        == "(ID > 0) AND (" + str(watermark.window_predicate("W", "NUMBER", None, "9")) + ")"
    )


def test_a_next_run_starts_at_the_recorded_high(monkeypatch: pytest.MonkeyPatch) -> None:
    _reads(monkeypatch, empty=False, recorded="5")
    table = TableConfig(source="T", source_watermark="W", uniqueness_columns=["ID"])
    window = watermark.window_for(None, None, _source(table), table, SRC)
    assert not window.initial and (window.low, window.high) == ("5", "9")
    assert window.keys == ("ID",)
    assert window.source_filter == watermark.window_predicate("W", "NUMBER", "5", "9")


def test_rows_without_keys_or_a_known_low_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _reads(monkeypatch, empty=False, recorded=None)
    table = TableConfig(source="T", source_watermark="W")
    with pytest.raises(RunRefused, match="would duplicate them"):
        watermark.window_for(None, None, _source(table), table, SRC)

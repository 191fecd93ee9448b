"""The seams the run package's split made: the adapters' server versions, truncation protection
in the target adapter, and a run summary's exit code, each without a server."""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any

import pytest

from snowpg.errors import RunRefused
from snowpg.model import SourceColumn, SourceTable, TablePlan
from snowpg.postgres import connection, emptiness
from snowpg.run.options import RunSummary, TableSummary
from snowpg.run.summary import wanted
from snowpg.snowflake import session


class FakeCursor:
    def __init__(self, row: tuple[Any, ...] | None) -> None:
        self.row = row
        self.executed: list[Any] = []

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def execute(self, query: Any, params: Any = None) -> FakeCursor:
        self.executed.append(query)
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.row


class FakeConnection:
    def __init__(self, row: tuple[Any, ...] | None) -> None:
        self.cur = FakeCursor(row)
        self.rollbacks = 0

    def cursor(self) -> FakeCursor:
        return self.cur

    def execute(self, query: Any, params: Any = None) -> FakeCursor:
        return self.cur.execute(query, params)

    def rollback(self) -> None:
        self.rollbacks += 1


@pytest.mark.parametrize(
    ("row", "expected"), [(("8.40.1",), "8.40.1"), (None, None)], ids=["answer", "no row"]
)
def test_snowflake_server_version(row: tuple[Any, ...] | None, expected: str | None) -> None:
    conn = FakeConnection(row)
    assert session.server_version(conn) == expected  # type: ignore[arg-type]
    assert conn.cur.executed == ["SELECT CURRENT_VERSION()"]


def test_postgres_server_version() -> None:
    text = "PostgreSQL 16.4 on x86_64-pc-linux-gnu, compiled by gcc, 64-bit"
    conn = FakeConnection((text,))
    assert connection.server_version(conn) == text  # type: ignore[arg-type]
    assert connection.server_version(FakeConnection(None)) is None  # type: ignore[arg-type]


def _plan(**changes: Any) -> TablePlan:
    src = SourceTable("DB", "PUBLIC", "ORDERS", (SourceColumn("ID", "NUMBER", 38, 0),))
    base: dict[str, Any] = {
        "source_name": "src",
        "source": src,
        "target_database": "pg",
        "target_schema": "public",
        "target_table": "orders",
        "mappings": (),
        "chunks": (),
        "create_target": False,
    }
    return TablePlan(**(base | changes))


@pytest.mark.parametrize("changes", [{"create_target": True}, {"truncate_onstart": True}])
def test_a_table_snowpg_creates_or_empties_is_never_queried(changes: dict[str, Any]) -> None:
    conn = FakeConnection((True,))
    emptiness.refuse_if_not_empty(conn, _plan(**changes))
    assert conn.cur.executed == []


def test_a_fresh_load_into_rows_is_refused_and_an_empty_table_passes() -> None:
    empty = FakeConnection((False,))
    emptiness.refuse_if_not_empty(empty, _plan())
    assert len(empty.cur.executed) == 1 and empty.rollbacks == 1
    with pytest.raises(RunRefused, match=r"public\.orders already has rows") as refused:
        emptiness.refuse_if_not_empty(FakeConnection((True,)), _plan())
    assert refused.value.table == "ORDERS"


def _table(name: str, status: str, failed: int = 0) -> TableSummary:
    return TableSummary(name, f"public.{name.lower()}", status, 2, 2 - failed, failed, 0, 0, 0.0)


@pytest.mark.parametrize(
    ("statuses", "selected", "code"),
    [
        ([("A", "completed"), ("B", "skipped")], (), 0),
        ([("A", "completed"), ("B", "running")], (), 3),
        ([("A", "completed"), ("B", "running")], ("A",), 0),
        ([("A", "failed"), ("B", "completed")], ("B",), 0),
        ([("A", "failed"), ("B", "completed")], (), 1),
    ],
)
def test_a_summary_exit_code_counts_only_the_selected_tables(
    statuses: list[tuple[str, str]], selected: tuple[str, ...], code: int
) -> None:
    tables = [_table(n, s) for n, s in statuses]
    summary = RunSummary("src", uuid.uuid4(), "partial", False, tables, 0, 0.0, 0, [], selected)
    assert summary.exit_code == code


def test_a_table_is_wanted_by_its_configured_or_upper_case_name() -> None:
    class Table:
        def __init__(self, source: str) -> None:
            self.source = source

    selected: list[Any] = [Table("orders"), Table("Items")]
    assert wanted("ORDERS", selected) and wanted("orders", selected) and wanted("Items", selected)
    assert not wanted("items", selected) and not wanted("OTHER", selected)

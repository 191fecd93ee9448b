"""The status package's seams: a report table from its query row (pure), and the store's door."""

from __future__ import annotations

import ast
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from snowpg.status import report, store

STATUS = Path(report.__file__).parent


def _row(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(
        source_table="T", target_schema="public", target_table="t", status="in_progress",
        total_chunks=10, completed_chunks=4, failed_chunks=0, total_rows_copied=4000,
        estimated_rows=10_000, retries=2, started_at=None, completed_at=None, error_message=None,
        chunks_in_progress=1, total_bytes=123, secs=20.0, age=20.0, idle_s=None, recent_rows=1200,
        median_s=1.5,
    )  # fmt: skip
    base.update(kw)
    return base


def test_a_table_of_the_report_from_its_row() -> None:
    t = report.table_status(_row())
    assert (t.target, t.chunks_total, t.retries, t.bytes_copied) == ("public.t", 10, 2, 123)
    assert t.rows_per_second == pytest.approx(1200 / 20.0)  # over the window, or the age if less
    assert t.average_rows_per_second == pytest.approx(4000 / 20.0)
    assert t.eta_seconds == pytest.approx(6000 / 60.0)
    assert t.verification is None


def test_pauses_leave_the_average_and_a_finished_table_has_no_eta() -> None:
    paused = report.table_status(_row(secs=3620.0, age=3620.0, idle_s=3600.0))
    assert paused.average_rows_per_second == pytest.approx(4000 / 20.0)
    done = report.table_status(
        _row(status="completed", completed_chunks=10, verify_status="match",
             verified_at=datetime(2026, 1, 2, 3, 4))
    )  # fmt: skip
    assert done.rows_per_second is None and done.eta_seconds is None
    assert done.verification == "match (2026-01-02 03:04)"


def test_the_report_module_does_no_io() -> None:
    """The faces import the report's types without a driver: report.py imports no psycopg."""
    tree = ast.parse((STATUS / "report.py").read_text())
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert not {
        m for m in imported if m.startswith(("psycopg", "snowpg.postgres", "snowpg.config"))
    }


def test_the_store_door_names_every_public_function_of_the_row_modules() -> None:
    from snowpg.status import chunks, claims, failures, runs, tables, verified

    for module in (chunks, claims, failures, runs, tables, verified):
        public = {
            name
            for name, value in vars(module).items()
            if callable(value)
            and not name.startswith("_")
            and getattr(value, "__module__", None) == module.__name__
        }
        assert public - {"claim_params"} <= set(store.__all__), module.__name__
    assert all(hasattr(store, name) for name in store.__all__)

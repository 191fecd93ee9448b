"""Which views snowpg (re)creates beside views another tool made: the pure decision."""

from __future__ import annotations

from snowpg.status.views import VIEWS, Found, foreign, to_create

MARK = "snowpg status schema v3"
ACTIVE, PROGRESS = VIEWS
THEIRS = Found("v", "Runs still in progress", ("run_id", "started_at", "status"))


def names(found: dict[str, Found]) -> list[str]:
    return [name for _, name in to_create(found, MARK)]


def test_empty_schema_gets_all_four() -> None:
    assert names({}) == [
        "v_snowpg_active_migrations", "v_active_migrations",
        "v_snowpg_table_progress", "v_table_progress",
    ]  # fmt: skip
    assert foreign({}) == []


def test_another_tools_views_are_left_alone() -> None:
    found = {"v_active_migrations": THEIRS, "v_table_progress": THEIRS}
    assert names(found) == ["v_snowpg_active_migrations", "v_snowpg_table_progress"]
    assert foreign(found) == ["v_active_migrations", "v_table_progress"]


def test_current_views_need_nothing() -> None:
    found = {n: Found("v", MARK, v.columns) for v in VIEWS for n in (v.own_name, v.shared_name)}
    assert names(found) == []


def test_older_snowpg_views_are_replaced() -> None:
    found = {
        # v2 marked only v_table_progress; its v_active_migrations is known by its columns.
        "v_active_migrations": Found("v", None, ACTIVE.columns),
        "v_table_progress": Found("v", "snowpg status schema v2", PROGRESS.columns),
        "v_snowpg_active_migrations": Found("v", MARK, ACTIVE.columns),
        "v_snowpg_table_progress": Found("v", MARK, PROGRESS.columns),
    }
    assert names(found) == ["v_active_migrations", "v_table_progress"]
    assert foreign(found) == []


def test_a_table_under_a_views_name_is_not_touched() -> None:
    found = {"v_table_progress": Found("r", None, PROGRESS.columns)}
    assert "v_table_progress" not in names(found)
    assert foreign(found) == ["v_table_progress"]


def test_a_commented_view_is_snowpgs_only_with_snowpgs_marker() -> None:
    # Their view with snowpg's column names but its own comment stays theirs: its column types
    # may differ, and CREATE OR REPLACE VIEW would then fail.
    found = {"v_active_migrations": Found("v", "theirs", ACTIVE.columns)}
    assert "v_active_migrations" not in names(found)
    assert foreign(found) == ["v_active_migrations"]

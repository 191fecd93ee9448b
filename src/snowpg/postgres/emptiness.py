"""Truncation protection: a fresh load into a target table that already has rows is refused.

Only reads the target table (in the caller's connection) and rolls back; the planner's preflight
calls it for every table a fresh load would write into.
"""

from __future__ import annotations

from typing import Any

from snowpg.errors import RunRefused
from snowpg.model import TablePlan
from snowpg.postgres import ddl


def refuse_if_not_empty(conn: Any, plan: TablePlan) -> None:
    """Truncation protection: a fresh load into a table that has rows would duplicate them."""
    if plan.create_target or plan.truncate_onstart:
        return
    with conn.cursor() as cur:
        cur.execute(ddl.table_has_rows(plan.target_schema, plan.target_table))
        row = cur.fetchone()
    conn.rollback()
    if row and row[0]:
        name = f"{plan.target_schema}.{plan.target_table}"
        raise RunRefused(
            f"target table {name} already has rows; a fresh load would duplicate them",
            hint=(
                f'set "truncate_onstart": true for table {plan.source.name}, empty {name} '
                "yourself, or leave it out with --tables"
            ),
            table=plan.source.name,
        )

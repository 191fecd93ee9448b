"""Preflight: check every selected table and collect every problem before anything is written.

A user with three non-empty targets and a misspelt table learns all four in one run, not one
per run. Transient failures (network, throttling) are not collected: they are raised at once,
since the rest of the check could not be trusted either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from snowpg.config import TableConfig
from snowpg.errors import RunRefused, SnowpgError, TransientError
from snowpg.model import TablePlan
from snowpg.plan import watermark
from snowpg.postgres import emptiness

log = logging.getLogger("snowpg.plan.preflight")


@dataclass
class Preflight:
    plans: dict[str, TablePlan] = field(default_factory=dict)
    problems: list[SnowpgError] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)  # tables a fresh load would refuse

    def raise_if_any(self) -> None:
        """One error naming every problem (the first one's class; exit 2 if any is a refusal)."""
        if not self.problems:
            return
        if len(self.problems) == 1:
            raise self.problems[0]
        worst = next((p for p in self.problems if p.exit_code == 2), self.problems[0])
        listed = "; ".join(f"({i}) {p}" for i, p in enumerate(self.problems, 1))
        message = f"{len(self.problems)} problems, nothing was written: {listed}"
        raise type(worst)(message, table=worst.table, field=worst.field)


def check_tables(
    tables: Sequence[TableConfig],
    plan_one: Callable[[TableConfig], TablePlan],
    pg_conn: Any,
) -> Preflight:
    """Plan each table with ``plan_one`` and check that a fresh load may write into it."""
    out = Preflight()
    for table in tables:
        try:
            out.plans[table.source] = plan_one(table)
        except TransientError:
            raise
        except SnowpgError as exc:
            out.problems.append(exc)
        finally:
            pg_conn.rollback()
    incremental = {t.source for t in tables if watermark.is_incremental(t)}
    for name, plan in out.plans.items():
        if plan.incremental is not None or name in incremental:
            continue  # incremental tables load into existing rows by design
        try:
            emptiness.refuse_if_not_empty(pg_conn, plan)
        except RunRefused as exc:
            out.problems.append(exc)
            out.refused.add(name)
    if out.problems:
        log.debug("preflight found %d problem(s)", len(out.problems))
    return out

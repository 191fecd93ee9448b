"""One consistent snapshot per run: its Time Travel point, and whether each table still has it.

A fresh run takes Snowflake's clock when it is created (:func:`run_point`) and stores it in its
``migration_runs.metadata``; every later invocation and process of the run reads it from there,
and every source query of the run (planning, chunks, delete checks, verify) reads
``AT(TIMESTAMP => <point>)`` (:func:`snowpg.snowflake.statements.table_ref`). Snowflake keeps a
table's past for ``DATA_RETENTION_TIME_IN_DAYS`` (default 1, 0 = none): each invocation checks
that every unfinished table's retention covers the snapshot's age plus :data:`MARGIN_S` before it
prepares or copies anything (:func:`check_retention`), and refuses with one line per table
otherwise. ``"snapshot": "none"`` in the configuration turns all of it off (docs/design.md).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from snowpg.config import Settings
from snowpg.contract import TableContract
from snowpg.errors import RunRefused
from snowpg.model import Snapshot, SourceTable
from snowpg.snowflake import timetravel
from snowpg.status import store
from snowpg.status.rows import RunRow

log = logging.getLogger("snowpg.plan.snapshot")

# How much longer than the snapshot's age a table's retention must reach when an invocation
# starts: about what one Lambda invocation (15 minutes) or a long stretch of a CLI run copies
# before the next check, with room for clock differences.
MARGIN_S = 3600.0
METADATA_KEY = "snapshot"
# The least retention a table planned at the run's point can have (see _doubtful).
PROVEN_DAYS = 1


def run_point(
    settings: Settings, existing: RunRow | None, sf: Callable[[], Any]
) -> Snapshot | None:
    """The snapshot of the run being opened: a resumed run's stored point (None if it was started
    without one), a new one from Snowflake (``sf()``) for a fresh run; None with
    ``"snapshot": "none"``."""
    if settings.snapshot == "none":
        return None
    if existing is not None:
        return Snapshot.from_json(existing.metadata.get(METADATA_KEY))
    point = timetravel.take_snapshot(sf())
    log.info("the run reads every table at its snapshot %s UTC", point.timestamp)
    return point


def stored_point(settings: Settings, run: RunRow | None) -> Snapshot | None:
    """The point a run was started with (None: it reads the live tables)."""
    if settings.snapshot == "none" or run is None:
        return None
    return Snapshot.from_json(run.metadata.get(METADATA_KEY))


def metadata(point: Snapshot | None) -> dict[str, Any]:
    """What a new run's metadata records about its snapshot."""
    return {METADATA_KEY: point.to_json()} if point is not None else {}


def at_point(table: SourceTable, point: Snapshot | None) -> SourceTable:
    """``table`` read at ``point``."""
    if point is None or table.snapshot == point:
        return table
    return dataclasses.replace(table, snapshot=point)


def retention_problem(
    table: SourceTable, point: Snapshot, now: datetime, margin_s: float = MARGIN_S
) -> str | None:
    """Why ``table`` cannot be read at ``point`` until ``now + margin_s``; None if it can (or its
    retention is unknown)."""
    days = table.retention_days
    if days is None:
        return None
    age = max(0.0, point.age_seconds(now))
    if days > 0 and age + margin_s <= days * 86400.0:
        return None
    kept = "no Time Travel" if days == 0 else f"{days} day(s) of Time Travel"
    return (
        f"table {table.qualified} keeps {kept} (DATA_RETENTION_TIME_IN_DAYS = {days}); the run's "
        f"snapshot {point.timestamp} UTC is {age / 3600:.1f} h old and must stay readable "
        f"{margin_s / 3600:g} h more"
    )


def unfinished_sources(admin: Any, run: RunRow | None) -> list[SourceTable]:
    """The source tables of ``run`` that still have chunks to copy, from their load contracts."""
    if run is None:
        return []
    rows = store.table_rows(admin, run.run_id)
    admin.commit()
    out = []
    for row in rows:
        contract = TableContract.from_json(row.metadata)
        if row.status not in ("completed", "skipped") and contract is not None:
            out.append(contract.source)
    return out


def check_retention(
    point: Snapshot | None,
    tables: Iterable[SourceTable],
    sf: Callable[[], Any] | None = None,
    *,
    now: datetime | None = None,
    current: Callable[[Sequence[SourceTable]], dict[str, int]] | None = None,
) -> None:
    """Refuse the run when a table's retention does not cover its snapshot (see module doc).

    Tables whose retention may not cover the run by what the catalog said when they were
    described (unknown counts as :data:`PROVEN_DAYS`) are asked again in Snowflake through
    ``sf()``, one query per schema (``current`` replaces that in tests): the retention may have
    been raised since, as the refusal's hint says. So nothing is asked while a snapshot is younger
    than its tables' known retention minus the margin.
    """
    if point is None:
        return
    now = now or datetime.now(UTC)
    unique = {t.qualified: t for t in tables}
    doubtful = [t for t in unique.values() if _doubtful(t, point, now)]
    if not doubtful:
        return
    if current is not None:
        fresh = current(doubtful)
    else:
        fresh = _current_retention(sf() if sf is not None else None, doubtful)
    problems = []
    for t in doubtful:
        known = dataclasses.replace(t, retention_days=fresh.get(t.qualified, t.retention_days))
        problem = retention_problem(known, point, now)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise RunRefused(
            "; ".join(problems),
            hint="start a fresh run (--no-resume), which takes a new snapshot; or raise the "
            "retention with ALTER TABLE <table> SET DATA_RETENTION_TIME_IN_DAYS = <days> (if the "
            'snapshot is still within it); or set "snapshot": "none" to read the live tables',
            table=doubtful[0].qualified if len(problems) == 1 else None,
        )


def _doubtful(table: SourceTable, point: Snapshot, now: datetime) -> bool:
    """True when the retention recorded for ``table`` may not cover the run. An unknown one is
    taken as :data:`PROVEN_DAYS`: the table was planned at the point, which a retention of 0
    refuses, and retention counts whole days."""
    assumed = table.retention_days if table.retention_days is not None else PROVEN_DAYS
    probe = dataclasses.replace(table, retention_days=assumed)
    return retention_problem(probe, point, now) is not None


def _current_retention(sf: Any, tables: Sequence[SourceTable]) -> dict[str, int]:
    """Each table's retention now, by qualified name: one query per database and schema."""
    if sf is None:
        return {}
    by_schema: dict[tuple[str, str], list[str]] = {}
    for t in tables:
        by_schema.setdefault((t.database, t.schema), []).append(t.name)
    out: dict[str, int] = {}
    for (database, schema), names in by_schema.items():
        for name, days in timetravel.retention_days(sf, database, schema, names).items():
            out[f"{database}.{schema}.{name}"] = days
    return out

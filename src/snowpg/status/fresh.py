"""``no_resume`` honoured once per request: which run a repeated fresh-run request continues.

A workflow loop (the existing tool's state machine) sends the same execution input, ``no_resume``
included, on every iteration. The fresh run records the request's token (``fresh_request`` in
``migration_runs.metadata``); a later call of the same request (one that carries an earlier call's
answer) finds the newest run of the source started for that token and resumes it. A first call
always starts fresh, so a new execution with the same input gets a new run.
"""

from __future__ import annotations

import uuid
from typing import Any

from snowpg.status import store

METADATA_KEY = "fresh_request"


def metadata(no_resume: bool, token: str | None) -> dict[str, Any]:
    """The fresh run's metadata entry naming the request that asked for it."""
    return {METADATA_KEY: token} if no_resume and token else {}


def run_to_continue(
    conn: Any, source_name: str, *, no_resume: bool, token: str | None, continues: bool
) -> uuid.UUID | None:
    """The run a continuing ``no_resume`` call resumes instead of starting another fresh run.

    None for a first call, or when the newest run of the source was not started for this token
    (the fresh run was never created, or another request replaced it): then the call starts
    fresh. Leaves no transaction open.
    """
    if not (no_resume and token and continues):
        return None
    found = conn.execute(
        "SELECT to_regclass('migration_status.migration_runs') IS NOT NULL"
    ).fetchone()
    run = store.latest_run(conn, source_name) if found and found[0] else None
    conn.commit()
    if run is None or run.metadata.get(METADATA_KEY) != token:
        return None
    return run.run_id

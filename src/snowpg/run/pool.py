"""Copy the run's chunks in a pool of worker threads, and hand back what an interrupt left held.

Each worker claims chunks until none is left (or the deadline passes); a table whose last chunk
is done is finished by the worker that did it, and a final sweep finishes any a crash left open.
On Ctrl-C the chunks in flight finish, then this process's claims go back to pending.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any

import psycopg

from snowpg.config import Settings, SourceConfig
from snowpg.copy.context import WorkerContext
from snowpg.copy.job import TableJob, WorkerStats
from snowpg.copy.worker import Worker
from snowpg.errors import SnowpgError
from snowpg.postgres import connection
from snowpg.run import lifecycle, prepare
from snowpg.run.options import MigrateOptions
from snowpg.sinks import MetricsSink, ProgressSink
from snowpg.status import store
from snowpg.status.rows import TableKey

log = logging.getLogger("snowpg.run.pool")


def run_workers(
    settings: Settings,
    source: SourceConfig,
    run_id: uuid.UUID,
    jobs: dict[TableKey, TableJob],
    limits: dict[TableKey, int],
    options: MigrateOptions,
    progress: ProgressSink,
    metrics: MetricsSink,
) -> tuple[list[WorkerStats], bool, bool]:
    """Every worker's stats, whether the deadline stopped one, whether the run was abandoned."""
    if not jobs:
        return [], False, False
    n = max([settings.parallel_threads, *[v for v in limits.values() if v > 0]])
    stop = threading.Event()
    ctx = WorkerContext(
        settings=settings,
        run_id=run_id,
        target_database=source.target_pg_database,
        source_database=source.source_sf_database,
        source_schema=source.source_sf_schema,
        jobs=jobs,
        table_limits=limits,
        deadline=options.deadline,
        stop=stop,
        progress=progress,
        metrics=metrics,
        on_table_chunk_done=prepare.finish_table,
        query_slots=settings.max_snowflake_queries_for(source),
    )
    prefix = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    workers = [Worker(ctx, f"{prefix}:{i}") for i in range(n)]
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="snowpg-worker") as pool:
        futures = [pool.submit(w.run) for w in workers]
        try:
            results: list[WorkerStats] = []
            for f, w in zip(futures, workers, strict=True):
                try:
                    results.append(f.result())
                except SnowpgError as exc:
                    log.error("worker stopped: %s", exc)
                    w.stats.errors.append(str(exc))
                    results.append(w.stats)
        except KeyboardInterrupt:
            stop.set()
            # The chunks in flight finish (rows and "completed" commit together); then whatever
            # this process still holds goes back to pending, so `snowpg status` is true at once.
            wait_futures(futures)
            release_interrupted(settings, source, run_id, prefix)
            raise
    return results, any(w.deadline_reached for w in workers), ctx.abandoned.is_set()


def release_interrupted(
    settings: Settings, source: SourceConfig, run_id: uuid.UUID, prefix: str
) -> None:
    """After Ctrl-C: hand back this process's claims and close the run as partial (own txns)."""
    try:
        conn = connection.connect(settings.postgres, source.target_pg_database)
    except SnowpgError as exc:
        log.warning("interrupted: could not release this process's chunks: %s", exc)
        return
    try:
        released = store.release_owned(conn, run_id, prefix)
        enabled = {t.source for t in source.tables if t.enabled}
        status = lifecycle.final_status(conn, run_id, enabled, deadline_hit=False)
        if status == "completed" or status == "partial":
            store.set_run_status(conn, run_id, status, None)
        conn.commit()
        log.info("interrupted: %d chunk(s) handed back; run %s is %s", released, run_id, status)
    except psycopg.Error as exc:
        log.warning("interrupted: could not release this process's chunks: %s", exc)
    finally:
        conn.close()


def final_sweep(admin: Any, run_id: uuid.UUID) -> None:
    """Finish every table left open or with its indexes not yet restored (e.g. after a crash)."""
    for row in store.table_rows(admin, run_id):
        if row.status in ("completed", "skipped") and (
            row.indexes_restored or not row.indexes_disabled
        ):
            continue
        prepare.finish_table(admin, row.key)
    admin.commit()

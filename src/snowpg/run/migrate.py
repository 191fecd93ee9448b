"""Migrate one source: open the run, turn its tables into jobs, copy them, close the run.

The steps, in order: ``lifecycle.start`` finds, resumes or creates the run and plans and prepares
its tables; ``jobs_for`` builds a copy job per table from the status rows; ``run_workers`` copies
the chunks; ``final_sweep`` finishes tables left open; ``lifecycle.finish`` records the run's
status; ``summarize`` reports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from snowpg import malloc
from snowpg.config import Settings, SourceConfig
from snowpg.plan import discovery
from snowpg.postgres import connection
from snowpg.run import lifecycle
from snowpg.run.jobs import jobs_for
from snowpg.run.options import MigrateOptions, RunSummary
from snowpg.run.pool import final_sweep, run_workers
from snowpg.run.summary import summarize, summarize_abandoned, summarize_already_complete, wanted
from snowpg.sinks import MetricsSink, ProgressSink
from snowpg.status import store


def migrate_source(
    settings: Settings,
    source: SourceConfig,
    options: MigrateOptions | None = None,
    progress: ProgressSink | None = None,
    on_run_ready: Callable[..., Any] | None = None,
    metrics: MetricsSink | None = None,
) -> RunSummary:
    """Migrate (or continue migrating) one source; returns the summary of the run.

    ``on_run_ready(run_id, rows)`` is called once the run is open and its tables prepared.
    ``progress`` and ``metrics`` are the sinks the face installs (no-ops when not given).
    """
    malloc.limit_arenas()
    try:
        return _migrate_source(
            settings,
            source,
            options or MigrateOptions(),
            progress or ProgressSink(),
            metrics or MetricsSink(),
            on_run_ready,
        )
    except psycopg.Error as exc:
        raise connection.translate_pg_error(
            exc, context=f"source {source.source_name}: PostgreSQL {source.target_pg_database}"
        ) from exc


def _migrate_source(
    settings: Settings,
    source: SourceConfig,
    options: MigrateOptions,
    progress: ProgressSink,
    metrics: MetricsSink,
    on_run_ready: Callable[..., Any] | None,
) -> RunSummary:
    started = time.monotonic()
    config_hash = settings.config_hash(source)  # of the config text, before discovery
    # A discovering source ("tables": "*") learns its tables in the start-up, from the run or
    # from the one catalog statement planning reads anyway.
    selected = [] if source.discovers else source.select_tables(options.tables_filter)
    admin, opened = lifecycle.start(settings, source, selected, config_hash, options)
    source = opened.source or source
    selected = opened.selected if opened.selected is not None else selected
    try:
        if opened.already_complete is not None:
            return summarize_already_complete(
                admin, source, opened.already_complete, selected, started
            )
        assert opened.run_id is not None
        run_id, resumed, rows = opened.run_id, opened.resumed, opened.rows
        if on_run_ready is not None:
            on_run_ready(run_id, rows)
        jobs, limits = jobs_for(settings, source, selected, rows, opened.plans)
        stats, deadline_hit, abandoned = run_workers(
            settings, source, run_id, jobs, limits, options, progress, metrics
        )
        admin.close()
        admin = lifecycle.rejoin(settings, source, run_id)
        if abandoned or store.run_abandoned(admin, run_id):
            admin.commit()
            return summarize_abandoned(admin, source, run_id, resumed, stats, started)
        admin.commit()
        final_sweep(admin, run_id)
        status = lifecycle.finish(admin, source, run_id, deadline_hit)
        summary = summarize(admin, source, run_id, status, resumed, stats, started)
        summary.selected = tuple(
            r.key.source_table for r in rows if wanted(r.key.source_table, selected)
        )
        summary.deadline_hit = deadline_hit
        in_run = {t.source_table for t in summary.tables} | {
            t.source_table.upper() for t in summary.tables
        }
        summary.unplanned = tuple(
            t.source for t in selected if t.source not in in_run and t.source.upper() not in in_run
        )
        return summary
    finally:
        admin.close()

"""Run a migration of one source: resume or start a run, prepare tables, copy chunks, finish.

A run belongs to one source and lives in that source's target database (``migration_status``).
Several processes may work one run at once: the first prepares it under an advisory lock, the
others find it and claim chunks beside it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Any

import psycopg

from snowpg import malloc
from snowpg.config import Settings, SourceConfig, TableConfig
from snowpg.contract import TableContract
from snowpg.copy import upsert
from snowpg.copy.worker import TableJob, Worker, WorkerContext, WorkerStats
from snowpg.errors import RunRefused, SnowpgError, TransientError
from snowpg.model import TablePlan
from snowpg.plan import planner, preflight, typemap, watermark
from snowpg.sinks import ProgressSink
from snowpg.source import connection as sf_connection
from snowpg.status import fresh, presence, store
from snowpg.status import report as status_report
from snowpg.status import schema as status_schema
from snowpg.status.rows import RunRow, TableKey, TableRow
from snowpg.target import connection as pg_connection
from snowpg.target import prepare

log = logging.getLogger("snowpg.engine")

# Longest pause between retries of the start-up phase (open run, plan, prepare).
MAX_START_BACKOFF_S = 30.0


@dataclass(frozen=True)
class MigrateOptions:
    tables_filter: Sequence[str] | str | None = None
    no_resume: bool = False
    # With no_resume: the request's token, recorded in the fresh run; on a continuing call of
    # the same request the run started fresh for it is resumed instead (status.fresh).
    fresh_request: str | None = None
    fresh_continues: bool = False
    resume_run_id: uuid.UUID | None = None
    resume_max_age_hours: float | None = None
    deadline: float | None = None  # time.monotonic() after which no new chunk is claimed


@dataclass
class TableSummary:
    source_table: str
    target: str
    status: str
    total_chunks: int
    completed_chunks: int
    failed_chunks: int
    rows: int
    estimated_rows: int | None
    seconds: float | None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class RunSummary:
    source_name: str
    run_id: uuid.UUID
    status: str  # completed / partial / failed / running
    resumed: bool
    tables: list[TableSummary]
    rows_this_process: int
    seconds: float
    retries: int
    errors: list[str]
    selected: tuple[str, ...] = ()  # source tables this invocation was asked to copy
    deadline_hit: bool = False
    already_complete: bool = False  # the run had completed before; nothing was copied

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def exit_code(self) -> int:
        """0 when every selected table is complete, 1 if any failed, 3 if work remains."""
        mine = [t for t in self.tables if not self.selected or t.source_table in self.selected]
        if any(t.status == "failed" or t.failed_chunks for t in mine):
            return 1
        if all(t.status in ("completed", "skipped") for t in mine):
            return 0
        return 3


def migrate_source(
    settings: Settings,
    source: SourceConfig,
    options: MigrateOptions | None = None,
    progress: ProgressSink | None = None,
    on_run_ready: Any = None,
) -> RunSummary:
    """Migrate (or continue migrating) one source; returns the summary of the run."""
    malloc.limit_arenas()
    try:
        return _migrate_source(settings, source, options, progress, on_run_ready)
    except psycopg.Error as exc:
        raise pg_connection.translate_pg_error(
            exc, context=f"source {source.source_name}: PostgreSQL {source.target_pg_database}"
        ) from exc


@dataclass
class _Opened:
    """What the start-up phase established; ``created`` survives a retried start-up."""

    run_id: uuid.UUID | None = None
    resumed: bool = False
    plans: dict[str, TablePlan] = field(default_factory=dict)
    rows: list[TableRow] = field(default_factory=list)
    created: uuid.UUID | None = None  # a run this process created (a retry resumes it)
    already_complete: RunRow | None = None


def _start(
    settings: Settings,
    source: SourceConfig,
    selected: list[TableConfig],
    config_hash: str,
    options: MigrateOptions,
) -> tuple[Any, _Opened]:
    """Open (find, create or resume) the run and prepare its tables, retrying transient faults.

    Every step is idempotent: tables are prepared in one transaction each, and a run this
    process already created is resumed rather than replaced on the next attempt.
    Returns the admin connection, which holds this process's run lock (status.presence).
    """
    opened = _Opened()
    attempts = settings.max_retry_attempts
    for attempt in range(attempts + 1):
        admin: Any = None
        try:
            admin = pg_connection.connect(settings.postgres, source.target_pg_database)
            presence.lock_source(admin, source.source_name)
            opts = options
            if opened.created is not None:
                opts = dataclasses.replace(options, no_resume=False, resume_run_id=opened.created)
            _open_run(settings, source, selected, config_hash, opts, admin, opened)
            if opened.run_id is not None:
                presence.join_run(admin, opened.run_id, _process_name())
                opened.rows = store.list_tables(admin, opened.run_id)
                admin.commit()
            presence.unlock_source(admin, source.source_name)
            return admin, opened
        except (psycopg.Error, TransientError) as exc:
            err = pg_connection.translate_pg_error(
                exc, context=f"source {source.source_name}: starting the run"
            )
            if admin is not None:
                with contextlib.suppress(Exception):
                    admin.close()
            if not isinstance(err, TransientError):
                raise err from exc
            if attempt >= attempts:
                raise TransientError(
                    f"{err.message} (transient; gave up after {attempts} retries)",
                    hint="run the same command again: the run resumes where it stopped",
                ) from exc
            delay = min(MAX_START_BACKOFF_S, settings.retry_backoff_seconds * (2**attempt))
            log.warning(
                "starting the run failed (%s); transient, retry %d of %d in %.1fs",
                err.message,
                attempt + 1,
                attempts,
                delay,
            )
            time.sleep(delay)
        except BaseException:
            if admin is not None:
                with contextlib.suppress(Exception):
                    admin.close()
            raise
    raise AssertionError("unreachable")


def _migrate_source(
    settings: Settings,
    source: SourceConfig,
    options: MigrateOptions | None,
    progress: ProgressSink | None,
    on_run_ready: Any,
) -> RunSummary:
    options = options or MigrateOptions()
    progress = progress or ProgressSink()
    started = time.monotonic()
    selected = source.select_tables(options.tables_filter)
    config_hash = settings.config_hash(source)
    admin, opened = _start(settings, source, selected, config_hash, options)
    try:
        if opened.already_complete is not None:
            return _already_complete(admin, source, opened.already_complete, selected, started)
        assert opened.run_id is not None
        run_id, resumed, plans, rows = opened.run_id, opened.resumed, opened.plans, opened.rows
        if on_run_ready is not None:
            on_run_ready(run_id, rows)
        jobs, limits = _jobs_for(settings, source, selected, rows, plans)
        stats, deadline_hit, abandoned = _run_workers(
            settings, source, run_id, jobs, limits, options, progress
        )
        # The admin connection sat idle through the copy: a PostgreSQL restart or a dropped link
        # in that time (which the workers survived by retrying) must not fail the run's last step.
        admin.close()
        admin = pg_connection.connect(settings.postgres, source.target_pg_database)
        presence.join_run(admin, run_id, _process_name())
        if abandoned or store.run_abandoned(admin, run_id):
            admin.commit()
            return _abandoned(admin, source, run_id, resumed, jobs, stats, started)
        admin.commit()
        _final_sweep(admin, run_id)
        enabled = {t.source for t in source.tables if t.enabled}
        status = _final_status(admin, run_id, enabled, deadline_hit)
        if status != "running":
            store.set_run_status(admin, run_id, status, _run_error(admin, run_id, status))
        summary = _summary(admin, source, run_id, status, resumed, jobs, stats, started)
        summary.selected = tuple(
            r.key.source_table for r in rows if _wanted(r.key.source_table, selected)
        )
        summary.deadline_hit = deadline_hit
        return summary
    finally:
        admin.close()


def _already_complete(
    admin: Any, source: SourceConfig, run: RunRow, selected: list[TableConfig], started: float
) -> RunSummary:
    log.info(
        "run %s of source %s is already complete; nothing to copy (to load again into empty "
        "targets, run with --no-resume)",
        run.run_id,
        source.source_name,
        extra={"run_id": run.run_id},
    )
    summary = _summary(admin, source, run.run_id, "completed", True, {}, [], started)
    summary.already_complete = True
    summary.selected = tuple(
        t.source_table for t in summary.tables if _wanted(t.source_table, selected)
    )
    return summary


def _abandoned(
    admin: Any,
    source: SourceConfig,
    run_id: uuid.UUID,
    resumed: bool,
    jobs: dict[TableKey, TableJob],
    stats: list[WorkerStats],
    started: float,
) -> RunSummary:
    """This run was replaced by a fresh run while we copied: report, never write its status."""
    message = (
        f"run {run_id} was replaced by a fresh run (--no-resume) while this process copied; "
        "its uncommitted chunks were rolled back"
    )
    log.error(message, extra={"run_id": run_id})
    summary = _summary(admin, source, run_id, "failed", resumed, jobs, stats, started)
    summary.errors.append(message)
    return summary


def _open_run(
    settings: Settings,
    source: SourceConfig,
    selected: list[TableConfig],
    config_hash: str,
    options: MigrateOptions,
    admin: Any,
    opened: _Opened,
) -> None:
    """Find, resume or create the run and prepare its unprepared tables; fills ``opened``.

    Called under the source lock. A fresh run never replaces a run that has a live process.
    """
    again = fresh.run_to_continue(
        admin,
        source.source_name,
        no_resume=options.no_resume,
        token=options.fresh_request,
        continues=options.fresh_continues,
    )
    if again is not None:
        log.info("run %s was started fresh for this same request; resuming it", again)
        options = dataclasses.replace(options, no_resume=False, resume_run_id=again)
    existing = _find_run(admin, source, options)
    if existing is not None and existing.config_hash != config_hash and not options.no_resume:
        raise RunRefused(
            f"run {existing.run_id} of source '{source.source_name}' was started with a different "
            f"configuration (status '{existing.status}')",
            hint='rerun with --no-resume (Step Functions: start a new execution with "no_resume": '
            "true in its input) to start a fresh run, or "
            "restore the configuration it was started with",
        )
    resumed = existing is not None and not options.no_resume
    if existing is not None and not resumed:
        _refuse_if_live(admin, source, existing)
    if existing is None and not options.no_resume and options.resume_run_id is None:
        done = _completed_run(admin, source, selected, config_hash)
        if done is not None:
            opened.already_complete = done
            return
    prepared: set[str] = set()
    if resumed and existing is not None:
        prepared = {r.key.source_table for r in store.list_tables(admin, existing.run_id)}
        admin.commit()
    to_plan = [t for t in selected if not _is_prepared(t, prepared)]
    # Every problem of every table (missing tables and columns, non-empty targets) at once.
    plans = _plan_tables(settings, source, to_plan, admin)

    status_schema.ensure_schema(admin)
    if resumed and existing is not None:
        run_id = existing.run_id
        reset = store.reset_failed(admin, run_id)
        store.set_run_status(admin, run_id, "running")
        log.info(
            "resuming run %s of source %s (%d failed chunk(s) back to pending)",
            run_id,
            source.source_name,
            reset,
            extra={"run_id": run_id},
        )
    else:
        if existing is not None:
            # Before any truncate: a chunk of the old run still in flight then fails to commit
            # (claims.complete_chunk), and no further chunk of it can be claimed.
            store.set_run_status(
                admin,
                existing.run_id,
                "failed",
                "abandoned: a fresh run was started with --no-resume",
            )
        run_id = store.create_run(
            admin,
            source_name=source.source_name,
            config_hash=config_hash,
            created_by=_who(),
            metadata={
                "source_name": source.source_name,
                "source_names": [source.source_name],  # the existing tool's monitoring SQL
                "migration_version": settings.migration_version,
                "tables": [t.source for t in selected],
                "snowpg_version": _version(),
                **fresh.metadata(options.no_resume, options.fresh_request),
            },
        )
        opened.created = run_id
        log.info(
            "started run %s of source %s", run_id, source.source_name, extra={"run_id": run_id}
        )
    ordinal = len(prepared)
    for name, plan in plans.items():
        prepare.prepare_table(admin, run_id, plan, ordinal)
        ordinal += 1
        log.info(
            "planned %s: %d chunk(s), ~%d rows (%s)",
            name,
            len(plan.chunks),
            plan.estimated_rows,
            plan.chunking_method,
            extra={"table": name},
        )
        for note in plan.notes:
            log.warning("%s: %s", name, note, extra={"table": name})
    opened.run_id, opened.resumed = run_id, resumed
    opened.plans = {**opened.plans, **plans}


def _refuse_if_live(admin: Any, source: SourceConfig, existing: RunRow) -> None:
    """Refuse to replace ``existing`` while any process of it is alive (its run lock is held)."""
    live = presence.live_processes(admin, existing.run_id)
    admin.commit()
    if live:
        raise RunRefused(
            f"run {existing.run_id} of source '{source.source_name}' is still being worked by "
            f"{len(live)} live process(es): {'; '.join(live)}. A fresh run now would load the "
            "same rows twice",
            hint="wait for it to finish (snowpg status) or stop it, then start the fresh run "
            "again; without --no-resume this command joins the live run instead",
        )


def _completed_run(
    admin: Any, source: SourceConfig, selected: list[TableConfig], config_hash: str
) -> RunRow | None:
    """The source's newest run if it completed with this configuration and a rerun would only
    reload the same full tables (incremental tables always get a new run)."""
    if any(watermark.is_incremental(t) for t in selected):
        return None
    if not status_report.has_status_schema(admin):
        return None
    run = store.latest_run(admin, source.source_name)
    if run is None or run.status != "completed" or run.config_hash != config_hash:
        admin.commit()
        return None
    done = {
        r.key.source_table
        for r in store.list_tables(admin, run.run_id)
        if r.status in ("completed", "skipped")
    }
    admin.commit()
    return run if all(_is_prepared(t, done) for t in selected) else None


def _is_prepared(table: TableConfig, prepared: set[str]) -> bool:
    return table.source in prepared or table.source.upper() in prepared


def _find_run(admin: Any, source: SourceConfig, options: MigrateOptions) -> RunRow | None:
    if not status_schema.upgrade_if_present(admin):
        return None
    if options.resume_run_id is not None:
        run = store.get_run(admin, options.resume_run_id)
        admin.commit()
        if run is None:
            raise RunRefused(
                f"run {options.resume_run_id} not found in migration_status.migration_runs"
            )
        return run
    run = store.find_resumable_run(admin, source.source_name, options.resume_max_age_hours)
    admin.commit()
    return run


def _plan_tables(
    settings: Settings, source: SourceConfig, tables: list[TableConfig], admin: Any
) -> dict[str, TablePlan]:
    if not tables:
        return {}
    sf = sf_connection.connect(
        settings.snowflake, database=source.source_sf_database, schema=source.source_sf_schema
    )
    try:
        checked = preflight.check_tables(
            tables, lambda t: planner.plan_table(settings, source, t, sf, admin), admin
        )
    finally:
        sf.close()
    checked.raise_if_any()
    return checked.plans


def _jobs_for(
    settings: Settings,
    source: SourceConfig,
    selected: list[TableConfig],
    rows: list[TableRow],
    plans: dict[str, TablePlan],
) -> tuple[dict[TableKey, TableJob], dict[TableKey, int]]:
    from snowpg.source import catalog as source_catalog

    wanted = {t.source: t for t in selected} | {t.source.upper(): t for t in selected}
    jobs: dict[TableKey, TableJob] = {}
    limits: dict[TableKey, int] = {}
    sf = None
    try:
        for row in rows:
            table_cfg = wanted.get(row.key.source_table)
            if table_cfg is None or row.status in ("completed", "skipped"):
                limits[row.key] = 0
                continue
            plan = plans.get(table_cfg.source)
            contract = TableContract.from_json(row.metadata)
            if plan is not None:
                src = plan.source
            elif contract is not None:
                src = contract.source
            else:
                # A row written by a snowpg without load contracts: describe it as before.
                log.debug(
                    "%s has no load contract in its status row; describing it in Snowflake",
                    row.key.source_table,
                    extra={"table": row.key.source_table},
                )
                if sf is None:
                    sf = sf_connection.connect(
                        settings.snowflake,
                        database=source.source_sf_database,
                        schema=source.source_sf_schema,
                    )
                src = source_catalog.describe_table(
                    sf, row.key.source_database, row.key.source_schema, row.key.source_table
                )
            pairs = row.metadata.get("columns") or []
            # Arrow batches carry Snowflake's column names, so JSON columns are named that way.
            json_cols = tuple(
                s
                for s, _t in pairs
                if (c := src.column(s)) is not None and typemap.is_json_type(c.data_type)
            )
            jobs[row.key] = TableJob(
                key=row.key,
                source=src,
                source_columns=tuple(s for s, _t in pairs),
                target_schema=row.target_schema,
                target_table=row.target_table,
                target_columns=tuple(t for _s, t in pairs),
                json_columns=json_cols,
                nul_policy=settings.nul_policy_for(table_cfg),
                copy_format=settings.copy_format_for(table_cfg),
                source_filter=row.metadata.get("source_filter"),
                display_name=row.key.source_table,
                upsert=upsert.spec_from_metadata(row.metadata),
            )
            limits[row.key] = settings.threads_for(table_cfg)
    finally:
        if sf is not None:
            sf.close()
    return jobs, limits


def _run_workers(
    settings: Settings,
    source: SourceConfig,
    run_id: uuid.UUID,
    jobs: dict[TableKey, TableJob],
    limits: dict[TableKey, int],
    options: MigrateOptions,
    progress: ProgressSink,
) -> tuple[list[WorkerStats], bool, bool]:
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
        on_table_chunk_done=_finish_table,
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
            _release_interrupted(settings, source, run_id, prefix)
            raise
    return results, any(w.deadline_reached for w in workers), ctx.abandoned.is_set()


def _release_interrupted(
    settings: Settings, source: SourceConfig, run_id: uuid.UUID, prefix: str
) -> None:
    """After Ctrl-C: hand back this process's claims and close the run as partial (own txns)."""
    try:
        conn = pg_connection.connect(settings.postgres, source.target_pg_database)
    except SnowpgError as exc:
        log.warning("interrupted: could not release this process's chunks: %s", exc)
        return
    try:
        released = store.release_owned(conn, run_id, prefix)
        enabled = {t.source for t in source.tables if t.enabled}
        status = _final_status(conn, run_id, enabled, deadline_hit=False)
        if status == "completed" or status == "partial":
            store.set_run_status(conn, run_id, status, None)
        conn.commit()
        log.info("interrupted: %d chunk(s) handed back; run %s is %s", released, run_id, status)
    except psycopg.Error as exc:
        log.warning("interrupted: could not release this process's chunks: %s", exc)
    finally:
        conn.close()


def _finish_table(conn: Any, key: TableKey) -> None:
    """Close a table whose chunks are all done; restore its indexes. Own transaction."""
    row = store.finish_table(conn, key)
    if row.status == "completed" and row.indexes_disabled and not row.indexes_restored:
        made = prepare.restore_indexes(conn, row)
        log.info("restored %d index(es) on %s.%s", made, row.target_schema, row.target_table)
    conn.commit()


def _final_sweep(admin: Any, run_id: uuid.UUID) -> None:
    for row in store.list_tables(admin, run_id):
        if row.status in ("completed", "skipped") and (
            row.indexes_restored or not row.indexes_disabled
        ):
            continue
        _finish_table(admin, row.key)
    admin.commit()


def _wanted(source_table: str, selected: list[TableConfig]) -> bool:
    return any(source_table in (t.source, t.source.upper()) for t in selected)


def _final_status(admin: Any, run_id: uuid.UUID, enabled: set[str], deadline_hit: bool) -> str:
    tables = store.list_tables(admin, run_id)
    admin.commit()
    if all(t.status in ("completed", "skipped") for t in tables):
        in_run = {t.key.source_table for t in tables}
        missing = [n for n in enabled if n not in in_run and n.upper() not in in_run]
        # A --tables run leaves the source's other tables for a later call of the same run.
        return "partial" if missing else "completed"
    remaining = sum(t.total_chunks - t.completed_chunks - t.failed_chunks for t in tables)
    if remaining > 0:
        if deadline_hit:
            return "partial"
        live = store.live_in_progress(admin, run_id)
        admin.commit()
        # Chunks of tables this process was not asked to copy keep the run open for a later call.
        return "running" if live > 0 else "partial"
    return "failed"


def _run_error(admin: Any, run_id: uuid.UUID, status: str) -> str | None:
    if status != "failed":
        return None
    failed = [t for t in store.list_tables(admin, run_id) if t.status == "failed"]
    admin.commit()
    names = ", ".join(f"{t.key.source_table} ({t.failed_chunks} chunk(s))" for t in failed)
    return f"failed tables: {names}" if names else None


def _summary(
    admin: Any,
    source: SourceConfig,
    run_id: uuid.UUID,
    status: str,
    resumed: bool,
    jobs: dict[TableKey, TableJob],
    stats: list[WorkerStats],
    started: float,
) -> RunSummary:
    tables = []
    for row in store.list_tables(admin, run_id):
        seconds = None
        if row.started_at and row.completed_at:
            seconds = (row.completed_at - row.started_at).total_seconds()
        notes = []
        for key, label in (
            ("skipped_source_columns", "left out source columns"),
            ("unfilled_target_columns", "target columns not filled"),
        ):
            if row.metadata.get(key):
                notes.append(f"{label}: {', '.join(row.metadata[key])}")
        if row.metadata.get("nul_fixed"):
            counts = ", ".join(f"{c} {n:,}" for c, n in sorted(row.metadata["nul_fixed"].items()))
            notes.append(f"values cleaned of NUL characters (nul_policy): {counts}")
        tables.append(
            TableSummary(
                source_table=row.key.source_table,
                target=f"{row.target_schema}.{row.target_table}",
                status=row.status,
                total_chunks=row.total_chunks,
                completed_chunks=row.completed_chunks,
                failed_chunks=row.failed_chunks,
                rows=row.total_rows_copied,
                estimated_rows=row.estimated_rows,
                seconds=seconds,
                error=row.error_message,
                notes=notes,
            )
        )
    admin.commit()
    return RunSummary(
        source_name=source.source_name,
        run_id=run_id,
        status=status,
        resumed=resumed,
        tables=tables,
        rows_this_process=sum(s.rows for s in stats),
        seconds=time.monotonic() - started,
        retries=sum(s.retries for s in stats),
        errors=[e for s in stats for e in s.errors],
    )


def _process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _who() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _version() -> str:
    from snowpg import __version__

    return __version__

"""Open a source's run and close it: find, resume or create it under the advisory locks, and
decide its final status.

A run belongs to one source and lives in that source's target database (``migration_status``).
Several processes may work one run at once: the first prepares it under the source lock, the
others find it and claim chunks beside it; each holds its run lock while it works
(``status.presence``), so a fresh run never replaces a run that has a live process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg

from snowpg import __version__
from snowpg.config import Settings, SourceConfig, TableConfig
from snowpg.errors import RunRefused, TransientError
from snowpg.model import TablePlan
from snowpg.plan import discovery, watermark
from snowpg.plan.source_plan import SourcePlanner
from snowpg.postgres import connection
from snowpg.run import prepare
from snowpg.run.options import MigrateOptions
from snowpg.status import collect, fresh, presence, schema, store
from snowpg.status.rows import RunRow, TableRow

log = logging.getLogger("snowpg.run.lifecycle")

# Longest pause between retries of the start-up phase (open run, plan, prepare).
MAX_START_BACKOFF_S = 30.0


@dataclass
class OpenedRun:
    """What the start-up phase established; ``created`` survives a retried start-up."""

    run_id: uuid.UUID | None = None
    resumed: bool = False
    plans: dict[str, TablePlan] = field(default_factory=dict)
    rows: list[TableRow] = field(default_factory=list)
    created: uuid.UUID | None = None  # a run this process created (a retry resumes it)
    # A discovering source with its tables written out, and the run's tables among them.
    source: SourceConfig | None = None
    selected: list[TableConfig] | None = None
    unplanned: int = 0  # tables left unplanned at the planning deadline
    already_complete: RunRow | None = None


def start(
    settings: Settings,
    source: SourceConfig,
    selected: list[TableConfig],
    config_hash: str,
    options: MigrateOptions,
) -> tuple[Any, OpenedRun]:
    """Open (find, create or resume) the run and prepare its tables, retrying transient faults.

    Every step is idempotent: tables are prepared in one transaction each, and a run this
    process already created is resumed rather than replaced on the next attempt.
    Returns the admin connection, which holds this process's run lock (status.presence).
    """
    opened = OpenedRun()
    attempts = settings.max_retry_attempts
    for attempt in range(attempts + 1):
        admin: Any = None
        try:
            admin = connection.connect(settings.postgres, source.target_pg_database)
            presence.lock_source(admin, source.source_name)
            opts = options
            if opened.created is not None:
                opts = dataclasses.replace(options, no_resume=False, resume_run_id=opened.created)
            _open_run(settings, source, selected, config_hash, opts, admin, opened)
            if opened.run_id is not None:
                presence.join_run(admin, opened.run_id, process_name())
                opened.rows = store.table_rows(admin, opened.run_id)
                admin.commit()
            presence.unlock_source(admin, source.source_name)
            return admin, opened
        except (psycopg.Error, TransientError) as exc:
            err = connection.translate_pg_error(
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


def _open_run(
    settings: Settings,
    source: SourceConfig,
    selected: list[TableConfig],
    config_hash: str,
    options: MigrateOptions,
    admin: Any,
    opened: OpenedRun,
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
    planner = SourcePlanner(settings, source, admin)
    try:
        if source.discovers:
            source, selected = _discovered(admin, source, options, existing, resumed, planner)
            opened.source, opened.selected = source, selected
        if existing is None and not options.no_resume and options.resume_run_id is None:
            done = _completed_run(admin, source, selected, config_hash)
            if done is not None:
                opened.already_complete = done
                return
        prepared: set[str] = set()
        if resumed and existing is not None:
            prepared = {r.key.source_table for r in store.table_rows(admin, existing.run_id)}
            admin.commit()
        to_plan = [t for t in selected if not _is_prepared(t, prepared)]
        # Every problem of every table (missing tables and columns, non-empty targets) at once,
        # from one catalog statement; nothing is written before this passes.
        planner.check(to_plan).raise_if_any()
        admin.rollback()

        schema.ensure_schema(admin)
        if resumed and existing is not None:
            run_id = existing.run_id
            _resume(admin, source, run_id)
        else:
            run_id = _create(
                settings, source, selected, config_hash, options, admin, existing,
                discovering=opened.source is not None,
            )  # fmt: skip
            opened.created = run_id
        opened.run_id, opened.resumed = run_id, resumed
        plans = prepare.plan_and_prepare(
            planner, admin, run_id, to_plan, len(prepared), options.plan_deadline
        )
    finally:
        planner.close()
    opened.plans = {**opened.plans, **plans}
    opened.unplanned = len(to_plan) - len(plans)


def _discovered(
    admin: Any,
    source: SourceConfig,
    options: MigrateOptions,
    existing: RunRow | None,
    resumed: bool,
    planner: SourcePlanner,
) -> tuple[SourceConfig, list[TableConfig]]:
    """A discovering source's tables: those its run recorded when it was created (a resumed run,
    or the completed run a rerun would find), else the schema's catalog, read once."""
    recorded: Any = None
    if resumed and existing is not None:
        recorded = existing.metadata.get("discovered_tables")
    elif existing is None and not options.no_resume and options.resume_run_id is None:
        last = store.latest_run(admin, source.source_name) if collect.has_status_schema(admin) else None
        admin.commit()
        if last is not None and last.status == "completed":
            recorded = last.metadata.get("discovered_tables")
    if isinstance(recorded, list):
        resolved = discovery.with_names(source, [str(n) for n in recorded])
    else:
        resolved = discovery.with_tables(source, planner.describe(None))
    return resolved, resolved.select_tables(options.tables_filter)


def _resume(admin: Any, source: SourceConfig, run_id: uuid.UUID) -> None:
    reset = store.reset_failed(admin, run_id)
    store.set_run_status(admin, run_id, "running")
    log.info(
        "resuming run %s of source %s (%d failed chunk(s) back to pending)",
        run_id,
        source.source_name,
        reset,
        extra={"run_id": run_id},
    )


def _create(
    settings: Settings,
    source: SourceConfig,
    selected: list[TableConfig],
    config_hash: str,
    options: MigrateOptions,
    admin: Any,
    existing: RunRow | None,
    *,
    discovering: bool = False,
) -> uuid.UUID:
    """A new run; the run it replaces (``--no-resume``), if any, is marked abandoned first."""
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
            # A discovering source's tables, fixed for the run (plan.discovery.with_names).
            **({"discovered_tables": [t.source for t in source.tables]} if discovering else {}),
            "snowpg_version": __version__,
            **fresh.metadata(options.no_resume, options.fresh_request),
        },
    )
    log.info("started run %s of source %s", run_id, source.source_name, extra={"run_id": run_id})
    return run_id


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
    if not collect.has_status_schema(admin):
        return None
    run = store.latest_run(admin, source.source_name)
    if run is None or run.status != "completed" or run.config_hash != config_hash:
        admin.commit()
        return None
    done = {
        r.key.source_table
        for r in store.table_rows(admin, run.run_id)
        if r.status in ("completed", "skipped")
    }
    admin.commit()
    return run if all(_is_prepared(t, done) for t in selected) else None


def _is_prepared(table: TableConfig, prepared: set[str]) -> bool:
    return table.source in prepared or table.source.upper() in prepared


def _find_run(admin: Any, source: SourceConfig, options: MigrateOptions) -> RunRow | None:
    if not schema.upgrade_if_present(admin):
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


def rejoin(settings: Settings, source: SourceConfig, run_id: uuid.UUID) -> Any:
    """A new admin connection holding this process's run lock again.

    The first one sat idle through the copy: a PostgreSQL restart or a dropped link in that time
    (which the workers survived by retrying) must not fail the run's last step.
    """
    admin = connection.connect(settings.postgres, source.target_pg_database)
    presence.join_run(admin, run_id, process_name())
    return admin


def finish(admin: Any, source: SourceConfig, run_id: uuid.UUID, deadline_hit: bool) -> str:
    """Record the run's final status (unless other processes still work it); returns it."""
    enabled = {t.source for t in source.tables if t.enabled}
    status = final_status(admin, run_id, enabled, deadline_hit)
    if status != "running":
        store.set_run_status(admin, run_id, status, _run_error(admin, run_id, status))
    return status


def final_status(admin: Any, run_id: uuid.UUID, enabled: set[str], deadline_hit: bool) -> str:
    """completed, partial (work remains for a later call), running (others work it) or failed."""
    tables = store.table_rows(admin, run_id)
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
    failed = [t for t in store.table_rows(admin, run_id) if t.status == "failed"]
    admin.commit()
    names = ", ".join(f"{t.key.source_table} ({t.failed_chunks} chunk(s))" for t in failed)
    return f"failed tables: {names}" if names else None


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _who() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"

"""What each Lambda action does, over the run (snowpg.run); returns the answer's ``body``.

``body.status`` is ``completed``, ``partial`` (more work remains: call again) or ``failed``. The
handler turns errors into answers; here they are raised.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from snowpg.aws import timing
from snowpg.aws.events import Request
from snowpg.aws.failures import failure_message, find_run_id
from snowpg.config import Settings, SourceConfig
from snowpg.errors import ConfigError
from snowpg.logs import redact

log = logging.getLogger("snowpg.aws")


class LambdaContext(Protocol):
    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int: ...


def run(request: Request, settings: Settings, context: LambdaContext | None) -> dict[str, Any]:
    sources = settings.select_sources(list(request.source_names or ()) or None)
    if not sources:
        raise ConfigError(
            "no enabled source in the configuration; name one with source_name",
            field="source_name",
        )
    body = _ACTIONS[request.action](request, settings, sources, context)
    body["action"] = request.action
    body["requested_action"] = request.requested_action
    return body


def validate_config(
    request: Request, settings: Settings, sources: list[SourceConfig], context: Any
) -> dict[str, Any]:
    """The sources and their tables; a discovering source (``"tables": "*"``, include_tables)
    reads its Snowflake schema's catalog (one statement) to list them, others connect nowhere."""
    from snowpg.plan import discovery

    out = []
    for src in sources:
        wanted = list(request.tables_filter or ()) or None
        entry: dict[str, Any] = {
            "source_name": src.source_name,
            "enabled": src.enabled,
            "source": f"{src.source_sf_database}.{src.source_sf_schema}",
            "target": f"{src.target_pg_database}.{src.target_pg_schema}",
        }
        if src.discovers:
            catalog = discovery.fetch_catalog(settings, src)
            found = discovery.discover(src, catalog)
            tables = discovery.resolve_tables(src, catalog, wanted)
            entry["discovery"] = {
                "include_tables": src.include_tables,
                "exclude_tables": src.exclude_tables or [],
                "include_views": src.include_views,
                "skipped_views": found.skipped_views,
                "excluded": found.excluded,
                "unmatched_patterns": found.unmatched,
            }
        else:
            tables = src.select_tables(wanted)
        entry["tables"] = [t.source for t in tables]
        out.append(entry)
    return {"status": "completed", "message": "configuration is valid", "sources": out}


def test_connections(
    request: Request, settings: Settings, sources: list[SourceConfig], context: Any
) -> dict[str, Any]:
    from snowpg.checks import check_connections

    checks = check_connections(settings, sources)
    failed = [c for c in checks if not c.ok]
    return {
        "status": "failed" if failed else "completed",
        "message": "; ".join(f"{c.name}: {c.detail}" for c in failed) or "all connections work",
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
    }


def migrate(
    request: Request, settings: Settings, sources: list[SourceConfig], context: Any
) -> dict[str, Any]:
    from snowpg.observe.emf import EmfMetrics
    from snowpg.run.migrate import migrate_source

    results: list[dict[str, Any]] = []
    for i, src in enumerate(sources):
        budget = _budget(settings, src, request, context, first=i == 0)
        if budget is not None and budget.deadline <= time.monotonic():
            results.append({"source_name": src.source_name, "status": "partial", "run_id": None})
            continue
        deadline = budget.deadline if budget else None
        options = _options(request, deadline=deadline, plan_deadline=deadline)
        summary = migrate_source(settings, src, options, metrics=EmfMetrics())
        entry = summary_json(summary)
        if budget is not None:
            entry["budget"] = budget.to_json()
        results.append(entry)
        log.info(
            "source %s: run %s %s, %d row(s) copied by this invocation",
            src.source_name,
            summary.run_id,
            entry["status"],
            summary.rows_this_process,
            extra={"run_id": summary.run_id, "source_name": src.source_name},
        )
    return _aggregate(results)


def prepare(
    request: Request, settings: Settings, sources: list[SourceConfig], context: Any
) -> dict[str, Any]:
    """Create (or find) the run and plan its tables, copying nothing: the fan-out's first step.

    Planning stops between tables at the invocation's deadline; the workers' migrate calls plan
    whatever is left before they copy.
    """
    from snowpg.run.migrate import migrate_source

    results = []
    for i, src in enumerate(sources):
        budget = _budget(settings, src, request, context, first=i == 0)
        # A copy deadline already past: the workers stop before their first claim.
        options = _options(
            request,
            deadline=time.monotonic() - 1,
            plan_deadline=budget.deadline if budget else None,
        )
        results.append(summary_json(migrate_source(settings, src, options)))
    return _aggregate(results)


def status(
    request: Request, settings: Settings, sources: list[SourceConfig], context: Any
) -> dict[str, Any]:
    from snowpg.postgres import connection
    from snowpg.status.collect import collect_status
    from snowpg.sync import table_lags

    run = request.run_id or request.resume_run_id
    reports = []
    for src in sources:
        with contextlib.closing(
            connection.connect(settings.postgres, src.target_pg_database)
        ) as conn:
            report = collect_status(conn, src, run).to_json()
        # Cutover view: high-water marks and lag of the tables with a source_watermark.
        report["lag"] = [
            dataclasses.asdict(lag) | {"lag_text": lag.lag_text}
            for lag in table_lags(settings, src)
        ]
        reports.append(report)
    states = [_run_state(r.get("run_status")) for r in reports]
    body: dict[str, Any] = {"status": _worst(states), "runs": reports}
    if len(reports) == 1:
        body["run_id"] = reports[0].get("run_id")
    return body


def verify(
    request: Request, settings: Settings, sources: list[SourceConfig], context: Any
) -> dict[str, Any]:
    """Compare source and target per chunk (row counts and checksums) for each source's run.

    Stops starting chunks at the invocation's deadline (the remaining time minus the same margin
    migrate keeps) and answers ``partial``; the next call skips the chunks verified since their
    last copy and continues (``reverify``: read them all again).
    """
    from snowpg.verify.run import verify_source

    run = request.run_id or request.resume_run_id
    tables = list(request.tables_filter) if request.tables_filter else None
    results: list[dict[str, Any]] = []
    for i, src in enumerate(sources):
        budget = _budget(settings, src, request, context, first=i == 0)
        report = verify_source(
            settings,
            src,
            str(run) if run else None,
            tables,
            deadline=budget.deadline if budget else None,
            reverify=request.reverify,
        )
        entry: dict[str, Any] = {
            "source_name": src.source_name,
            "run_id": str(report.run_id),
            "status": answer_status(report.exit_code),
            "differences": report.differences,
            "deadline_hit": report.deadline_hit,
            "chunks": report.chunk_counts(),
            "tables": [
                {
                    "source_table": t.source_table,
                    "target": t.target,
                    "status": t.status,
                    **({"note": t.note} if t.note else {}),
                    **t.detail(),
                }
                for t in report.tables
            ],
        }
        if budget is not None:
            entry["budget"] = budget.to_json()
        results.append(entry)
    body: dict[str, Any] = {"status": _worst([r["status"] for r in results]), "sources": results}
    body["chunks"] = {
        k: sum(int(r["chunks"][k]) for r in results)
        for k in ("total", "verified", "verified_now", "verified_earlier", "remaining")
    }
    body["deadline_hit"] = any(r["deadline_hit"] for r in results)
    if len(results) == 1:
        body["run_id"] = results[0]["run_id"]
    body["message"] = "; ".join(_verify_line(r) for r in results)
    return body


def _verify_line(r: Mapping[str, Any]) -> str:
    n = r["chunks"]
    text = (
        f"source {r['source_name']}: run {r['run_id']} verify {r['status']}, "
        f"{n['verified']}/{n['total']} chunk(s) verified ({n['verified_now']} by this call), "
        f"{r['differences']} differing row(s)"
    )
    if r["deadline_hit"]:
        text += "; call again to continue"
    return text


def record_failure(
    request: Request, settings: Settings, sources: list[SourceConfig], context: Any
) -> dict[str, Any]:
    """Mark the run of a failed Step Functions execution failed, keeping an earlier message."""
    from snowpg.postgres import connection
    from snowpg.status import store
    from snowpg.status.schema import has_snowpg_columns

    state = request.failure or {}
    run_id = request.run_id or find_run_id(state)
    message = failure_message(state, request.execution)
    log.error("execution failed: %s", message, extra={"run_id": run_id})
    if run_id is None or len(sources) != 1:
        return {"status": "completed", "recorded": False, "message": message, "run_id": None}
    conn = connection.connect(settings.postgres, sources[0].target_pg_database)
    try:
        # A schema only the existing tool's file made has no snowpg run to mark.
        run = store.get_run(conn, run_id) if has_snowpg_columns(conn) else None
        conn.commit()
        recorded = False
        # The run's own message (e.g. which tables failed) is the better one: keep it. A run
        # without source_name is the existing tool's: left as it recorded it.
        keep = (
            run is None
            or run.source_name is None
            or run.status == "completed"
            or bool(run.status == "failed" and run.error_message)
        )
        if not keep:
            store.set_run_status(conn, run_id, "failed", message)
            recorded = True
    finally:
        conn.close()
    return {"status": "completed", "recorded": recorded, "message": message, "run_id": str(run_id)}


_ACTIONS = {
    "validate_config": validate_config,
    "test_connections": test_connections,
    "migrate": migrate,
    "prepare": prepare,
    "status": status,
    "verify": verify,
    "record_failure": record_failure,
}


# helpers ------------------------------------------------------------------------------------


def _options(request: Request, deadline: float | None, plan_deadline: float | None) -> Any:
    from snowpg.run.options import MigrateOptions

    tables = list(request.tables_filter) if request.tables_filter else None
    if request.run_id is not None:  # continue exactly this run, whatever the first call asked
        return MigrateOptions(
            tables_filter=tables,
            resume_run_id=request.run_id,
            deadline=deadline,
            plan_deadline=plan_deadline,
        )
    return MigrateOptions(
        tables_filter=tables,
        no_resume=request.no_resume,
        fresh_request=request.fresh_request,
        fresh_continues=request.continues,
        resume_run_id=request.resume_run_id,
        resume_max_age_hours=request.resume_max_age_hours,
        deadline=deadline,
        plan_deadline=plan_deadline,
    )


def _budget(
    settings: Settings, src: SourceConfig, request: Request, context: Any, *, first: bool
) -> timing.Budget | None:
    if context is None or not hasattr(context, "get_remaining_time_in_millis"):
        return None
    buffer = float(settings.lambda_timeout_buffer_seconds)
    remaining_ms = float(context.get_remaining_time_in_millis())
    if not first and remaining_ms / 1000.0 <= buffer:
        return timing.Budget(remaining_ms / 1000.0, buffer, time.monotonic(), False)
    longest = longest_chunk_seconds(settings, src, request.run_id or request.resume_run_id)
    return timing.plan_budget(remaining_ms, buffer, longest, time.monotonic())


def longest_chunk_seconds(
    settings: Settings, src: SourceConfig, run_id: uuid.UUID | None
) -> float | None:
    """The longest completed chunk of ``run_id`` (else the source's newest run), in seconds."""
    from snowpg.postgres import connection
    from snowpg.status import store
    from snowpg.status.schema import has_snowpg_columns

    conn = connection.connect(settings.postgres, src.target_pg_database, autocommit=True)
    try:
        if not has_snowpg_columns(conn):  # none yet, or only the existing tool's schema
            return None
        if run_id is None:
            run_id = store.latest_run_id(conn, src.source_name)
            if run_id is None:
                return None
        return store.longest_completed_chunk_seconds(conn, run_id)
    finally:
        conn.close()


def answer_status(exit_code: int) -> str:
    """The handler's status for a RunSummary's exit code (0 done, 1 failed, 3 work remains)."""
    return {0: "completed", 1: "failed"}.get(exit_code, "partial")


def summary_json(summary: Any) -> dict[str, Any]:
    tables = [
        {
            "source_table": t.source_table,
            "target": t.target,
            "status": t.status,
            "total_chunks": t.total_chunks,
            "completed_chunks": t.completed_chunks,
            "failed_chunks": t.failed_chunks,
            "rows": t.rows,
            **({"error": t.error} if t.error else {}),
            **({"duplicate_keys": t.duplicate_keys} if t.duplicate_keys else {}),
            **({"deduplicated": t.deduplicated} if t.deduplicated else {}),
        }
        for t in summary.tables
    ]
    total = sum(t.total_chunks for t in summary.tables)
    done = sum(t.completed_chunks for t in summary.tables)
    failed = sum(t.failed_chunks for t in summary.tables)
    return {
        "source_name": summary.source_name,
        "run_id": str(summary.run_id),
        "status": answer_status(summary.exit_code),
        "run_status": "partial" if summary.status == "running" else summary.status,
        "resumed": summary.resumed,
        "rows": summary.rows,
        "rows_this_invocation": summary.rows_this_process,
        "retries": summary.retries,
        "chunks": {
            "total": total,
            "completed": done,
            "failed": failed,
            "remaining": total - done - failed,
        },
        "deadline_hit": summary.deadline_hit,
        "seconds": round(summary.seconds, 3),
        "tables": tables,
        "errors": [redact(e) for e in summary.errors[:20]],
    }


def _aggregate(results: list[dict[str, Any]]) -> dict[str, Any]:
    state = _worst([r["status"] for r in results])
    body: dict[str, Any] = {"status": state}
    if len(results) == 1:
        body["source_name"] = results[0]["source_name"]
        body["run_id"] = results[0].get("run_id")
    for key in ("rows", "rows_this_invocation", "retries"):
        body[key] = sum(int(r.get(key, 0)) for r in results)
    body["chunks"] = {
        k: sum(int(r.get("chunks", {}).get(k, 0)) for r in results)
        for k in ("total", "completed", "failed", "remaining")
    }
    body["message"] = "; ".join(_one_line(r) for r in results)
    body["sources"] = results
    return body


def _one_line(r: Mapping[str, Any]) -> str:
    if r.get("run_id") is None:
        return f"source {r['source_name']}: not started (no time left in this invocation)"
    chunks = r.get("chunks", {})
    text = (
        f"source {r['source_name']}: run {r['run_id']} {r['status']}, "
        f"{chunks.get('completed', 0)}/{chunks.get('total', 0)} chunk(s), {r.get('rows', 0)} rows"
    )
    dups = [t for t in r.get("tables", []) if t.get("duplicate_keys")]
    if dups:
        text += "; duplicate source keys (every row loaded, no primary key): " + ", ".join(
            f"{t['source_table']} ({t['duplicate_keys'].get('extra_rows', 0)} extra row(s))"
            for t in dups
        )
    if r["status"] == "partial":
        text += "; call again to continue"
    elif r["status"] == "failed":
        text += f"; {chunks.get('failed', 0)} chunk(s) failed, see the errors"
    return text


def _worst(states: Sequence[str]) -> str:
    if "failed" in states:
        return "failed"
    if any(s != "completed" for s in states):
        return "partial"
    return "completed"


def _run_state(run_status: Any) -> str:
    if run_status in ("completed", "failed"):
        return str(run_status)
    return "partial"

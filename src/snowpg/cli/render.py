"""Tables the CLI prints: plans, run summaries, status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from snowpg.names import rename_reason
from snowpg.observe.fmt import human_bytes
from snowpg.run.options import RunSummary

if TYPE_CHECKING:
    # Types only: the status report pulls in psycopg, which `snowpg --help` does not need.
    from snowpg.model import TablePlan
    from snowpg.status.report import StatusReport

STATUS_STYLE = {
    "completed": "green",
    "failed": "red",
    "partial": "yellow",
    "running": "cyan",
    "in_progress": "cyan",
    "pending": "dim",
    "skipped": "dim",
}


def _styled(status: str | None) -> str:
    s = status or "-"
    return f"[{STATUS_STYLE.get(s, 'white')}]{s}[/]"


def plan_action(p: TablePlan, refused: set[str] | frozenset[str] = frozenset()) -> str:
    """What migrate would do with the target; ``refused`` holds qualified source names."""
    if p.source.qualified in refused:
        return "refused: target has rows"
    return "create" if p.create_target else ("truncate + load" if p.truncate_onstart else "load")


def print_plan(
    console: Console,
    source_name: str,
    plans: Sequence[TablePlan],
    show_chunks: bool,
    refused: set[str] | frozenset[str] = frozenset(),
) -> None:
    t = Table(title=f"plan for source {source_name}", title_justify="left")
    for col in ("source table", "target", "action", "chunks", "est. rows", "chunking", "threads"):
        t.add_column(col, justify="right" if col in ("chunks", "est. rows", "threads") else "left")
    for p in plans:
        action = plan_action(p, refused)
        t.add_row(
            p.source.qualified,
            f"{p.target_database}.{p.target_schema}.{p.target_table}",
            action,
            str(len(p.chunks)),
            f"{p.estimated_rows:,}",
            p.chunking_method,
            str(p.parallel_threads),
        )
    console.print(t)
    for p in plans:
        console.print(f"[bold]{p.source.name}[/] columns:")
        renamed = rename_reason(p.source.name, p.target_table)
        if renamed:
            console.print(
                f"  table {p.source.name} -> {p.target_table}  [{renamed}]",
                highlight=False,
                markup=False,
            )
        for m in p.mappings:
            why = rename_reason(m.source, m.target)
            console.print(
                f"  {m.source} ({m.source_type}) -> {m.target} {m.pg_type}"
                + (f"  [{why}]" if why else ""),
                highlight=False,
                markup=False,
            )
        window = incremental_summary(p)
        if window is not None:
            console.print(f"  incremental: {window['text']}", highlight=False, markup=False)
        for note in p.notes:
            console.print(f"  [yellow]note:[/] {note}", highlight=False)
        if show_chunks:
            for c in p.chunks:
                console.print(
                    f"  chunk {c.chunk_id}: ~{c.estimated_rows:,} rows {c.range.to_json()}",
                    highlight=False,
                )


def incremental_summary(p: TablePlan) -> dict[str, Any] | None:
    """The watermark window and delete check of an incremental plan, for ``plan`` to show."""
    meta = p.incremental
    if meta is None:
        return None
    delete_from = meta.get("delete_from")
    delete_chunks = (
        sum(1 for c in p.chunks if c.chunk_id >= delete_from) if delete_from is not None else 0
    )
    low, high = meta.get("low"), meta.get("high")
    mode = "insert only" if meta.get("insert_only") else "upsert"
    text = (
        f"{meta.get('watermark_column') or '(no watermark)'} in "
        f"({low if low is not None else '-inf'}, {high if high is not None else '+inf'}]"
        f"{' (first load)' if meta.get('initial') else ''}, {mode}"
    )
    if delete_chunks:
        text += f", {delete_chunks} delete-check chunk(s) from chunk {delete_from}"
    return {
        "text": text,
        "watermark_column": meta.get("watermark_column"),
        "low": low,
        "high": high,
        "first_load": bool(meta.get("initial")),
        "insert_only": bool(meta.get("insert_only")),
        "delete_check_chunks": delete_chunks,
    }


def plan_json(p: TablePlan, refused: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    window = incremental_summary(p)
    return {
        "incremental": None if window is None else {k: v for k, v in window.items() if k != "text"},
        "source_name": p.source_name,
        "source_table": p.source.qualified,
        "target": f"{p.target_database}.{p.target_schema}.{p.target_table}",
        "action": plan_action(p, refused),
        "create_target": p.create_target,
        "chunking_method": p.chunking_method,
        "estimated_rows": p.estimated_rows,
        "columns": [
            {
                "source": m.source,
                "source_type": m.source_type,
                "target": m.target,
                "pg_type": m.pg_type,
                "renamed": rename_reason(m.source, m.target),
            }
            for m in p.mappings
        ],
        "skipped_source_columns": list(p.skipped_source_columns),
        "unfilled_target_columns": list(p.unfilled_target_columns),
        "chunks": [
            {"chunk_id": c.chunk_id, "estimated_rows": c.estimated_rows, "range": c.range.to_json()}
            for c in p.chunks
        ],
    }


def print_summary(console: Console, s: RunSummary, report: StatusReport | None = None) -> None:
    """The run's per-table report; ``report`` (read back from migration_status) adds bytes,
    retries and verification per table."""
    extra = {ts.source_table: ts for ts in report.tables} if report is not None else None
    t = Table(
        title=f"source {s.source_name} — run {s.run_id} — {s.status}"
        + (" (already complete: nothing to copy)" if s.already_complete else "")
        + (" (resumed)" if s.resumed and not s.already_complete else ""),
        title_justify="left",
    )
    cols = ["table", "target", "status", "chunks", "rows", "seconds", "rows/s"]
    if extra is not None:
        cols += ["bytes", "retries", "verification"]
    for col in cols:
        t.add_column(
            col, justify="left" if col in ("table", "target", "status", "verification") else "right"
        )
    for ts in s.tables:
        rate = f"{ts.rows / ts.seconds:,.0f}" if ts.seconds else "-"
        chunks = f"{ts.completed_chunks}/{ts.total_chunks}"
        if ts.failed_chunks:
            chunks += f" ([red]{ts.failed_chunks} failed[/])"
        cells = [
            ts.source_table,
            ts.target,
            _styled(ts.status),
            chunks,
            f"{ts.rows:,}",
            f"{ts.seconds:.1f}" if ts.seconds is not None else "-",
            rate,
        ]
        if extra is not None:
            more = extra.get(ts.source_table)
            cells += (
                [human_bytes(more.bytes_copied), str(more.retries), more.verification or "-"]
                if more is not None
                else ["-", "-", "-"]
            )
        t.add_row(*cells)
    console.print(t)
    console.print(
        f"rows in target for this run: [bold]{s.rows:,}[/]; copied by this process: "
        f"{s.rows_this_process:,} in {s.seconds:.1f}s; retries: {s.retries}",
        highlight=False,
    )
    for ts in s.tables:
        for note in ts.notes:
            console.print(f"[yellow]note[/] {ts.source_table}: {note}", highlight=False)
        if ts.status == "failed" or ts.failed_chunks:
            console.print(
                f"[red]failed[/] {ts.source_table}: {ts.error or 'see chunk errors'}",
                highlight=False,
            )
    if s.status == "partial" and s.exit_code == 0:
        console.print(
            "the selected tables are complete; the source's other enabled tables are not "
            "loaded yet "
            "— run without --tables to load them in this run"
        )
    elif s.status == "partial" or s.exit_code == 3:
        console.print(
            "[yellow]partial:[/] more work remains — run the same command again to continue"
        )
    elif s.status == "failed":
        console.print(
            "[red]failed:[/] fix the errors above and run the same command again to retry them"
        )


def print_status(console: Console, r: StatusReport) -> None:
    from snowpg.cli.observe import status_view

    console.print(status_view(r))

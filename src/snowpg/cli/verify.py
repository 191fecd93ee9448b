"""``snowpg verify``: compare source and target chunk by chunk; print what differs.

Exit codes: 0 every verified table matches; 1 a difference (or a chunk that could not be
verified); 3 work remains: ``--max-seconds`` ran out (run again to continue), or a table of the
run is not complete yet, so it was not verified.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    # snowpg.verify (psycopg, the source reader) is imported when a command runs.
    from snowpg.config import Settings, SourceConfig
    from snowpg.verify.report import TableResult, VerifyReport

# Mismatching chunks printed per table (all are recorded in migration_status).
MAX_PRINTED_CHUNKS = 20

_STYLE = {
    "match": "green",
    "mismatch": "red",
    "error": "red",
    "not verified": "yellow",
    "partial": "yellow",
}


def print_table_result(console: Console, t: TableResult) -> None:
    """One line per table, then each mismatching chunk with the keys of its differing rows."""
    style = _STYLE.get(t.status, "white")
    line = (
        f"[{style}]{t.status}[/]  {t.source_table} -> {t.target}: {len(t.chunks)} chunk(s), "
        f"{t.source_rows:,} source rows, {t.target_rows:,} target rows"
    )
    if t.note:
        line += f" ({t.note})"
    console.print(line, highlight=False, soft_wrap=True)
    for c in t.bad_chunks[:MAX_PRINTED_CHUNKS]:
        if c.error:
            console.print(f"  chunk {c.chunk_id}: error: {c.error}", highlight=False)
            continue
        console.print(
            f"  chunk {c.chunk_id}: {c.source_rows:,} source rows, {c.target_rows:,} target rows"
            f" — {c.missing} missing, {c.extra} extra, {c.changed} changed",
            highlight=False,
        )
        for k in c.keys:
            console.print(f"    {k['kind']:<8} {k['key']}", highlight=False, soft_wrap=True)
    hidden = len(t.bad_chunks) - MAX_PRINTED_CHUNKS
    if hidden > 0:
        console.print(f"  ... and {hidden} more chunk(s); see migration_chunk_status.verify_detail")


def report_table(report: VerifyReport) -> Table:
    t = Table(title=f"verification of run {report.run_id}", title_justify="left")
    for name in ("table", "result", "chunks", "bad chunks", "missing", "extra", "changed"):
        t.add_column(name, justify="left" if name in ("table", "result") else "right")
    for r in report.tables:
        d = r.detail()
        t.add_row(
            r.source_table,
            f"[{_STYLE.get(r.status, 'white')}]{r.status}[/]",
            str(len(r.chunks)),
            str(len(r.bad_chunks)),
            str(d["missing"]),
            str(d["extra"]),
            str(d["changed"]),
        )
    return t


def summary_line(report: VerifyReport) -> str:
    from snowpg.verify.compare import MATCH

    ok = sum(1 for t in report.tables if t.status == MATCH)
    line = (
        f"source {report.source_name}: {ok} of {len(report.tables)} table(s) verified equal, "
        f"{report.differences} differing row(s)"
    )
    n = report.chunk_counts()
    if n["verified_earlier"]:
        line += (
            f"; continued an unfinished verify: {n['verified_earlier']} of {n['verified']} "
            "chunk(s) were verified by an earlier call since their last copy (--full starts over)"
        )
    if n["remaining"]:
        line += f"; stopped at the deadline with {n['remaining']} chunk(s) left: run again"
    return line


def verify_command(
    config: Annotated[
        str | None,
        typer.Option(
            "--config", "-c", help="config.json path [default: $SNOWPG_CONFIG or ./config.json]"
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", "-s", help="source_name (comma-separated) [default: all enabled]"),
    ] = None,
    run: Annotated[
        str | None, typer.Option("--run", help="a run id [default: the source's latest run]")
    ] = None,
    tables: Annotated[
        str | None, typer.Option("--tables", "-t", help="only these source tables, comma-separated")
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="start over: read every chunk, also when an earlier verify of the run stopped "
            "unfinished (--max-seconds) and would be continued",
        ),
    ] = False,
    max_seconds: Annotated[
        float | None,
        typer.Option(
            "--max-seconds",
            min=1,
            help="stop starting chunks after this long; run again to continue (exit 3)",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Compare source and target per chunk (row counts and checksums); list differing rows.

    A verify stopped by --max-seconds is continued by the next one, which does not read again
    the chunks it already verified since their last copy; --full starts over.
    """
    import time
    from pathlib import Path

    from snowpg.cli.common import load_config, out_console
    from snowpg.verify.run import verify_source

    settings = load_config(Path(config) if config else None, verbose)
    wanted = [t.strip() for t in tables.split(",") if t.strip()] if tables else None
    worst = 0
    deadline = time.monotonic() + max_seconds if max_seconds else None
    for src in settings.select_sources(source):
        report = verify_source(
            settings,
            src,
            run,
            wanted,
            on_table=lambda t: print_table_result(out_console, t),
            deadline=deadline,
            reverify=full,
        )
        out_console.print(report_table(report))
        out_console.print(summary_line(report), highlight=False)
        if report.exit_code == 1 or (report.exit_code and not worst):
            worst = report.exit_code  # a difference (1) outranks an unfinished table (3)
    if worst:
        raise typer.Exit(worst)


def verify_after_migrate(
    settings: Settings, source: SourceConfig, run_id: object, tables: Sequence[str]
) -> int:
    """``migrate --verify``: verify the completed tables of the run just made; an exit code.

    0 when every completed table matches (tables left incomplete are reported by migrate itself),
    1 when any differs.
    """
    from snowpg.cli.common import out_console
    from snowpg.verify.run import verify_source

    report = verify_source(
        settings,
        source,
        str(run_id),
        list(tables) or None,
        on_table=lambda t: print_table_result(out_console, t),
    )
    out_console.print(summary_line(report), highlight=False)
    return 1 if report.exit_code == 1 else 0

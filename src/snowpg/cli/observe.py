"""``snowpg status``, ``snowpg serve`` and ``snowpg report``: read-only views of migration_status.

Registered on the app by :mod:`snowpg.cli.app`. Each reads only the ``migration_status`` schema of
the sources' target databases, so they work from any machine that can reach the target PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from snowpg.cli.common import ConfigOpt, RunOpt, SourceOpt
from snowpg.cli.render import _styled
from snowpg.observe.fmt import human_bytes, human_duration, human_rate

if TYPE_CHECKING:
    # snowpg.status.report (psycopg) is imported by the commands that read it, not at start-up.
    from snowpg.status.report import StatusReport


def status_view(r: StatusReport) -> RenderableType:
    """One source's run: a headline, a table per table, then stuck and failed chunks."""
    if r.run_id is None:
        return Text(f"source {r.source_name}: no run recorded in {r.target_database}")
    head = Text.from_markup(
        f"source [bold]{r.source_name}[/] run {r.run_id}: {_styled(r.run_status)}, "
        f"started {r.started_at:%Y-%m-%d %H:%M:%S}, elapsed {human_duration(r.seconds)}, "
        f"rows copied {r.rows_copied:,} ({human_bytes(r.bytes_copied)}), "
        f"rows/s {human_rate(r.rows_per_second)}, ETA {human_duration(r.eta_seconds)}, "
        f"retries {r.retries}"
    )
    t = Table()
    for col in ("table", "target", "status", "chunks", "rows", "est. rows", "bytes", "rows/s",
                "ETA", "retries", "last error"):  # fmt: skip
        t.add_column(col, justify="right" if col in _NUMERIC else "left")
    for ts in r.tables:
        chunks = f"{ts.chunks_completed}/{ts.chunks_total}"
        if ts.chunks_failed:
            chunks += f" ([red]{ts.chunks_failed} failed[/])"
        if ts.stuck_chunks:
            chunks += f" ([yellow]{len(ts.stuck_chunks)} stuck[/])"
        t.add_row(
            ts.source_table,
            ts.target,
            _styled(ts.status),
            chunks,
            f"{ts.rows_copied:,}",
            f"{ts.estimated_rows:,}" if ts.estimated_rows is not None else "-",
            human_bytes(ts.bytes_copied),
            human_rate(ts.rows_per_second if ts.rows_per_second else ts.average_rows_per_second),
            human_duration(ts.eta_seconds),
            str(ts.retries),
            Text((ts.error_message or "")[:80]),
        )
    parts: list[RenderableType] = [head, t]
    for c in r.stuck_chunks:
        parts.append(
            Text.from_markup(
                f"[yellow]stuck[/] {c.source_table} chunk {c.chunk_id}: in progress for "
                f"{human_duration(c.seconds)} (worker {c.lease_owner or '-'})"
            )
        )
    for ts in r.tables:
        for note in ts.key_notes:
            line = Text.from_markup(f"[yellow]keys[/] {ts.source_table}: ")
            line.append(note)
            parts.append(line)
    for c in r.failed_chunks:
        line = Text.from_markup(f"[red]failed[/] {c.source_table} chunk {c.chunk_id}: ")
        line.append(c.error_message or "no message")
        parts.append(line)
    return Group(*parts)


_NUMERIC = {"chunks", "rows", "est. rows", "bytes", "rows/s", "ETA", "retries"}


def status_command(
    config: ConfigOpt = None,
    source: SourceOpt = None,
    run: RunOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="refresh in place until Ctrl-C")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="seconds between refreshes with --watch")
    ] = 2.0,
    lag: Annotated[
        bool,
        typer.Option(
            "--lag", help="also show source/target high-water marks and lag (asks Snowflake)"
        ),
    ] = False,
) -> None:
    """Show runs and per-table progress, rates, ETA, retries, stuck and failed chunks."""
    from rich.live import Live

    from snowpg.cli.common import load_config, out_console
    from snowpg.cli.sync import lag_table
    from snowpg.observe.server import read_reports
    from snowpg.status.collect import parse_run_id
    from snowpg.sync import table_lags

    settings = load_config(config, snowflake=lag)  # --lag asks Snowflake; the rest reads PostgreSQL
    sources = settings.select_sources(source)

    def collect() -> list[StatusReport]:
        return read_reports(settings, sources, parse_run_id(run))

    if as_json:
        reports = [r.to_json() for r in collect()]
        if lag:
            for report, src in zip(reports, sources, strict=True):
                report["lag"] = [
                    dataclasses.asdict(x) | {"lag_text": x.lag_text}
                    for x in table_lags(settings, src)
                ]
        typer.echo(json.dumps(reports, indent=2, default=str))
        return
    if not watch:
        for r, src in zip(collect(), sources, strict=True):
            out_console.print(status_view(r))
            if lag:
                out_console.print(
                    lag_table(f"{src.source_name}: high-water marks", table_lags(settings, src))
                )
        return
    try:
        if not out_console.is_terminal:  # a pipe or a log: one snapshot after another
            while True:
                out_console.print(Group(*(status_view(r) for r in collect())))
                out_console.print(f"-- {time.strftime('%H:%M:%S')}", highlight=False)
                out_console.file.flush()
                time.sleep(max(0.2, interval))
        with Live(console=out_console, auto_refresh=False, screen=False) as live:
            while True:
                live.update(Group(*(status_view(r) for r in collect())), refresh=True)
                time.sleep(max(0.2, interval))
    except KeyboardInterrupt:
        return  # Ctrl-C ends --watch; nothing to continue


def serve_command(
    config: ConfigOpt = None,
    source: SourceOpt = None,
    host: Annotated[
        str, typer.Option("--host", help="address to bind; not localhost needs a token")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port (0: any free port)")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="SNOWPG_SERVE_TOKEN",
            help="token required in ?token= or 'Authorization: Bearer' [default: random when "
            "not on localhost]",
        ),
    ] = None,
    refresh: Annotated[
        float, typer.Option("--refresh", help="seconds between page refreshes")
    ] = 2.0,
) -> None:
    """Serve a read-only status page: runs, progress bars, throughput, stuck/failed chunks."""
    from snowpg.cli.common import err_console, load_config
    from snowpg.observe.server import ServeOptions, build_server

    settings = load_config(config, snowflake=False)
    options = ServeOptions(host=host, port=port, token=token, refresh_ms=int(refresh * 1000))
    server = build_server(settings, settings.select_sources(source), options)
    err_console.print(f"snowpg status page: {server.url}  (Ctrl-C to stop)", highlight=False)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def report_command(
    config: ConfigOpt = None,
    source: SourceOpt = None,
    run: RunOpt = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="also write a self-contained HTML report here")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Per-table run report: rows, bytes, duration, throughput, retries, verification."""
    from snowpg.cli.common import err_console, load_config, out_console
    from snowpg.observe.report_html import render_report
    from snowpg.observe.server import read_reports
    from snowpg.status.collect import parse_run_id

    settings = load_config(config, snowflake=False)
    reports = read_reports(settings, settings.select_sources(source), parse_run_id(run))
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in reports], indent=2, default=str))
    else:
        for r in reports:
            print_report(out_console, r)
    if html is not None:
        html.write_text(render_report(reports), encoding="utf-8")
        err_console.print(f"wrote {html}", highlight=False)


def report_table(r: StatusReport) -> Table:
    """The per-table run report: what a change ticket needs."""
    t = Table(
        title=f"run report — source {r.source_name} — run {r.run_id} — {r.run_status}",
        title_justify="left",
    )
    for col in ("table", "status", "chunks", "rows", "bytes", "duration", "rows/s", "retries",
                "verification"):  # fmt: skip
        t.add_column(col, justify="right" if col in _NUMERIC | {"duration"} else "left")
    for ts in r.tables:
        t.add_row(
            ts.source_table,
            _styled(ts.status),
            f"{ts.chunks_completed}/{ts.chunks_total}",
            f"{ts.rows_copied:,}",
            human_bytes(ts.bytes_copied),
            human_duration(ts.seconds),
            human_rate(ts.average_rows_per_second),
            str(ts.retries),
            ts.verification or "-",
        )
    return t


def print_report(console: Console, r: StatusReport) -> None:
    if r.run_id is None:
        console.print(f"source {r.source_name}: no run recorded in {r.target_database}")
        return
    console.print(report_table(r))
    console.print(
        f"total: {r.rows_copied:,} rows, {human_bytes(r.bytes_copied)} in "
        f"{human_duration(r.seconds)} ({human_rate(r.rows_per_second)} rows/s), "
        f"{r.retries} retries",
        highlight=False,
    )

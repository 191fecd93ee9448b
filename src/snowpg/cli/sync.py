"""``snowpg sync``: incremental runs until every table is within a lag (the cutover command)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    # snowpg.sync (planner, source and target catalogs) is imported when a command runs.
    from snowpg.sync import SyncResult, TableLag


def lag_table(title: str, lags: list[TableLag]) -> Table:
    """Per table: watermark column, source and target high-water marks, lag."""
    t = Table(title=title, title_justify="left")
    for name in ("table", "target", "watermark", "source high", "target high", "lag"):
        t.add_column(name, justify="right" if name == "lag" else "left")
    for lag in lags:
        t.add_row(
            lag.source_table,
            lag.target,
            lag.watermark_column or "-",
            lag.source_high or "-",
            lag.target_high or "-",
            lag.lag_text,
        )
    return t


def print_sync(console: Console, source_name: str, result: SyncResult) -> None:
    state = "caught up" if result.caught_up else f"exit {result.exit_code}"
    title = f"source {source_name} — {result.rounds} incremental run(s) — {state}"
    console.print(lag_table(title, result.lags))


def sync_command(
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
    tables: Annotated[
        str | None, typer.Option("--tables", "-t", help="only these source tables, comma-separated")
    ] = None,
    until_lag: Annotated[
        str | None,
        typer.Option(
            "--until-lag",
            help="repeat incremental runs until every table's lag is at most this "
            "(60s, 5m, 2h; a plain number for numeric watermarks) [default: one run]",
        ),
    ] = None,
    max_rounds: Annotated[
        int, typer.Option("--max-rounds", min=1, help="give up (exit 3) after this many runs")
    ] = 10,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Bring the target up to date with incremental runs; with --until-lag, until within it."""
    from pathlib import Path

    from snowpg.cli.common import load_config, out_console
    from snowpg.cli.render import print_summary
    from snowpg.observe.emf import EmfMetrics
    from snowpg.sync import parse_lag, sync_source

    settings = load_config(Path(config) if config else None, verbose)
    limit = parse_lag(until_lag) if until_lag is not None else None
    worst = 0
    for src in settings.select_sources(source):
        result = sync_source(
            settings,
            src,
            until_lag=limit,
            max_rounds=max_rounds,
            tables_filter=tables,
            metrics=EmfMetrics(),
        )
        if result.summaries:
            print_summary(out_console, result.summaries[-1])
        print_sync(out_console, src.source_name, result)
        if result.exit_code and worst != 1:
            worst = result.exit_code
    if worst:
        raise typer.Exit(worst)

"""The ``snowpg`` command line: a thin layer over the library.

Every command that needs the configuration takes ``--config PATH`` (default ``$SNOWPG_CONFIG``,
else ``./config.json``). A :class:`SnowpgError` becomes one line on stderr and a non-zero exit here,
in one place. Exit codes: 0 done, 1 failed, 2 bad input or refused, 3 partial (call again).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.exceptions
from rich.markup import escape

from snowpg import logs
from snowpg.cli.common import (
    ConfigOpt,
    SourceOpt,
    StderrAtWriteTime,
    TablesOpt,
    err_console,
    load_config,
    out_console,
)
from snowpg.cli.validate import validate_connected
from snowpg.config import Settings
from snowpg.errors import SnowpgError

app = typer.Typer(
    name="snowpg",
    help="Move Snowflake tables into PostgreSQL: chunked, exactly once, resumable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
INTERRUPTED = "interrupted: the run can be continued with the same command"


@app.command()
def validate(
    config: ConfigOpt = None,
    connect: Annotated[
        bool,
        typer.Option(
            "--connect",
            help="also check every enabled table on both servers as migrate would; write nothing",
        ),
    ] = False,
) -> None:
    """Check the configuration file and environment (with --connect: the tables too)."""
    settings = load_config(config)
    if connect:
        validate_connected(settings, out_console)
        return
    for src in settings.sources:
        state = "enabled" if src.enabled else "disabled"
        tables = [t for t in src.tables if t.enabled]
        listed = f"{len(tables)} enabled table(s)"
        if src.discovers:
            from snowpg.config.discover import describe_patterns

            listed = (
                f"{len(tables)} explicit enabled table(s) and the schema's "
                f"{escape(describe_patterns(src))}, found when it runs"
            )
        out_console.print(
            f"source [bold]{src.source_name}[/] ({state}): "
            f"{src.source_sf_database}.{src.source_sf_schema}"
            f" -> {src.target_pg_database}.{src.target_pg_schema}, {listed}"
        )
    out_console.print("[green]configuration is valid[/]")


@app.command("test-connections")
def test_connections(config: ConfigOpt = None, source: SourceOpt = None) -> None:
    """Connect to Snowflake and to each source's target PostgreSQL database."""
    from snowpg.checks import check_connections

    settings = load_config(config)
    results = check_connections(settings, settings.select_sources(source))
    failed = False
    for r in results:
        mark = "[green]ok[/]" if r.ok else "[red]FAILED[/]"
        out_console.print(f"{mark}  {r.name}: {r.detail}")
        failed |= not r.ok
    if failed:
        raise typer.Exit(1)


@app.command()
def plan(
    config: ConfigOpt = None,
    source: SourceOpt = None,
    tables: TablesOpt = None,
    chunks: Annotated[bool, typer.Option("--chunks", help="list every chunk's range")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Show how each table would be copied (columns, chunks, row estimates); copy nothing."""
    from snowpg.cli.render import plan_json, print_plan
    from snowpg.plan.discovery import resolve_source
    from snowpg.plan.source_plan import preflight_source

    settings = load_config(config)
    out: list[dict[str, Any]] = []
    checks = []
    for src in settings.select_sources(source):
        checked = preflight_source(settings, resolve_source(settings, src), tables)
        checks.append(checked)
        plans = list(checked.plans.values())
        refused = {checked.plans[n].source.qualified for n in checked.refused}
        if as_json:
            out.extend(plan_json(p, refused) for p in plans)
        else:
            print_plan(out_console, src.source_name, plans, show_chunks=chunks, refused=refused)
    if as_json:
        typer.echo(json.dumps(out, indent=2, default=str))
    for checked in checks:  # every problem of every table, in one line, as migrate would refuse
        checked.raise_if_any()


@app.command()
def migrate(
    config: ConfigOpt = None,
    source: SourceOpt = None,
    tables: TablesOpt = None,
    no_resume: Annotated[
        bool, typer.Option("--no-resume", help="start a fresh run even if one is unfinished")
    ] = False,
    max_seconds: Annotated[
        float | None,
        typer.Option(
            "--max-seconds", help="stop claiming chunks after N seconds; exit 3 (partial)"
        ),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="verify each completed table afterwards (snowpg verify)"),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Copy the tables of a source (continuing its unfinished run, if any)."""
    from snowpg.cli.progress import BarsProgress, PlainProgress
    from snowpg.cli.render import print_summary
    from snowpg.observe.emf import EmfMetrics
    from snowpg.run.migrate import migrate_source
    from snowpg.run.options import MigrateOptions

    settings = load_config(config, verbose)
    deadline = time.monotonic() + max_seconds if max_seconds is not None else None
    options = MigrateOptions(tables_filter=tables, no_resume=no_resume, deadline=deadline)
    worst = 0
    for src in settings.select_sources(source):
        logs.set_context(source_name=src.source_name)  # for JSON lines and EMF metrics
        use_bars = err_console.is_terminal
        sink: BarsProgress | PlainProgress = (
            BarsProgress(err_console) if use_bars else PlainProgress()
        )

        def ready(run_id: Any, rows: list[Any], sink: Any = sink) -> None:
            for r in rows:
                if r.status not in ("completed", "skipped"):
                    sink.add_table(r.key.source_table, r.estimated_rows or 0, r.total_rows_copied)

        with sink:
            summary = migrate_source(
                settings, src, options, progress=sink, on_run_ready=ready, metrics=EmfMetrics()
            )
            sink.finish()
        print_summary(out_console, summary, _read_report(settings, src, summary.run_id))
        worst = max(worst, _exit_code(summary), key=_severity)
        if verify:
            from snowpg.cli.verify import verify_after_migrate

            checked = verify_after_migrate(settings, src, summary.run_id, summary.selected)
            worst = max(worst, checked, key=_severity)
    if worst:
        raise typer.Exit(worst)


def _read_report(settings: Settings, src: Any, run_id: Any) -> Any:
    """The run's bytes/retries per table from migration_status, or None if it cannot be read."""
    from snowpg.postgres import connection
    from snowpg.status.collect import collect_status, parse_run_id

    try:
        run = parse_run_id(str(run_id))
        with contextlib.closing(
            connection.connect(settings.postgres, src.target_pg_database)
        ) as conn:
            return collect_status(conn, src, run)
    except SnowpgError as exc:
        err_console.print(f"note: cannot read the run report: {exc}", highlight=False)
        return None


def _exit_code(summary: Any) -> int:
    """README's code for one source: a ``--tables`` call that completed its tables but left the
    run partial (other tables remain) is 3, like any partial run."""
    code: int = summary.exit_code
    if code == 0 and summary.status == "partial":
        err_console.print(
            f"source {summary.source_name}: the run is partial, other tables remain: "
            "run `snowpg migrate` without --tables to copy them",
            highlight=False,
        )
        return 3
    return code


def _severity(code: int) -> int:
    return {0: 0, 3: 1, 1: 2, 2: 3}.get(code, 2)


@app.command()
def demo(
    rows: Annotated[
        int, typer.Option("--rows", help="rows in the largest sample table")
    ] = 1_000_000,
    workdir: Annotated[
        Path, typer.Option("--dir", help="where the demo keeps its servers' data")
    ] = Path(".snowpg-demo"),
    threads: Annotated[int, typer.Option("--threads", help="parallel_threads")] = 4,
    batch_size: Annotated[int, typer.Option("--batch-size", help="rows per chunk")] = 50_000,
    keep: Annotated[
        bool,
        typer.Option(
            "--keep", help="leave both servers running and print the commands to try on them"
        ),
    ] = False,
    stop: Annotated[
        bool, typer.Option("--stop", help="stop the servers a --keep demo left running")
    ] = False,
) -> None:
    """Run a real migration on local stand-ins: fakesnow (Snowflake) and an embedded PostgreSQL."""
    from snowpg.cli.demo import run_demo, stop_demo

    if stop:
        raise typer.Exit(stop_demo(workdir, out_console))
    logs.configure("INFO", stream=StderrAtWriteTime())
    code = run_demo(
        workdir,
        rows=rows,
        threads=threads,
        batch_size=batch_size,
        keep=keep,
        console=out_console,
        err_console=err_console,
    )
    if code:
        raise typer.Exit(code)


def _register_sync() -> None:
    from snowpg.cli.sync import sync_command

    app.command("sync")(sync_command)


_register_sync()


def _register_observe() -> None:
    from snowpg.cli.observe import report_command, serve_command, status_command

    app.command("status")(status_command)
    app.command("serve")(serve_command)
    app.command("report")(report_command)


_register_observe()


def _register_verify() -> None:
    from snowpg.cli.verify import verify_command

    app.command("verify")(verify_command)


_register_verify()


def _register_init() -> None:
    from snowpg.cli.init import init_command

    app.command("init")(init_command)


_register_init()


def _register_optional_commands() -> None:
    from snowpg.cli.deploy import deploy_command

    app.command("deploy")(deploy_command)


_register_optional_commands()


def _print_version(value: bool) -> None:
    if value:
        from snowpg import __version__

        typer.echo(f"snowpg {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="print the version and exit", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Move Snowflake tables into PostgreSQL: chunked, exactly once, resumable."""


def _error(message: str) -> None:
    err_console.print(
        f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True
    )


def _usage_line(exc: typer.exceptions.TyperException) -> str:
    """One line for a command-line mistake: what is wrong, and where the help is."""
    text = " ".join(str(exc.format_message()).split())
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "snowpg"
    return f"{escape(text)} (see `{escape(path)} --help`)"


def run(argv: list[str] | None = None) -> int:
    """Run the command line; every outcome becomes an exit code here, in one place.

    0 done, 1 failed, 2 bad input or refused (also every command-line mistake), 3 partial,
    130 interrupted (Ctrl-C: this process's chunks were handed back, the same command continues).
    """
    try:
        rv = app(args=argv, prog_name="snowpg", standalone_mode=False)
    except SnowpgError as exc:
        _error(escape(logs.redact(str(exc))))
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print(INTERRUPTED, highlight=False)
        return 130
    except (typer.Abort, typer.exceptions.Abort):
        err_console.print(INTERRUPTED, highlight=False)
        return 130
    except typer.exceptions.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            # A bare `snowpg` (or group): the help was printed; nothing went wrong.
            message = str(exc.format_message()).strip()
            if message:
                typer.echo(message)
            return 0
        _error(_usage_line(exc))
        return 2 if exc.exit_code in (1, 2) else exc.exit_code
    except Exception as exc:
        if os.environ.get("SNOWPG_DEBUG"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        _error(
            f"unexpected {type(exc).__name__}: {escape(logs.redact(first))} "
            "(set SNOWPG_DEBUG=1 for the traceback; please report it)"
        )
        return 1
    code = rv if isinstance(rv, int) else 0
    if code == 130:  # typer turns a KeyboardInterrupt inside a command into Exit(130)
        err_console.print(INTERRUPTED, highlight=False)
    return code


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()

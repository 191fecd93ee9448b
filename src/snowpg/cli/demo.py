"""``snowpg demo``: a real migration between local stand-ins, from nothing to a summary.

The command lives with the other faces; ``snowpg.demo`` holds the servers and sample data
it uses."""

from __future__ import annotations

import json
import os
import shlex
import signal
import time
from pathlib import Path

from rich.console import Console

from snowpg.cli.progress import BarsProgress, PlainProgress
from snowpg.cli.render import print_summary
from snowpg.config import load_settings
from snowpg.demo import sample
from snowpg.demo.servers import (
    free_port,
    start_embedded_postgres,
    start_snowflake,
    stop_embedded_postgres,
)
from snowpg.run.migrate import migrate_source
from snowpg.run.options import RunSummary

FAKESNOW_PID = "fakesnow.pid"


def run_demo(
    workdir: Path,
    rows: int,
    threads: int,
    console: Console,
    err_console: Console,
    batch_size: int = 50_000,
    keep: bool = False,
) -> int:
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    _runtime_dir(workdir)
    console.print(f"[bold]snowpg demo[/] — working in {workdir}")
    console.print("starting the Snowflake stand-in (fakesnow behind the service's wire format) ...")
    fs = start_snowflake(workdir / "fakesnow")
    pg = None
    kept = False
    try:
        console.print("starting an embedded PostgreSQL (pgserver wheel) ...")
        pg = start_embedded_postgres(workdir / "postgres", keep_running=keep)
        sample.ensure_database(pg.dsn(), "demo")
        t0 = time.monotonic()
        sf = fs.connect()
        counts = sample.create_sample_data(sf, rows)
        sf.close()
        console.print(
            "sample data in Snowflake: "
            + ", ".join(
                f"{sample.DATABASE}.{sample.SCHEMA}.{k} {v:,} rows" for k, v in counts.items()
            )
            + f" ({time.monotonic() - t0:.1f}s)"
        )
        config_path = workdir / "config.json"
        config_path.write_text(json.dumps(sample.demo_config(threads, batch_size), indent=2))
        env = {**os.environ, **fs.env(), **pg.env()}
        settings = load_settings(config_path, env)
        source = settings.source("demo")
        console.print(f"config written to {config_path}; migrating with {threads} threads ...")
        sink: BarsProgress | PlainProgress = (
            BarsProgress(err_console) if err_console.is_terminal else PlainProgress()
        )

        def ready(run_id: object, table_rows: list[object]) -> None:
            for r in table_rows:
                sink.add_table(r.key.source_table, r.estimated_rows or 0, r.total_rows_copied)  # type: ignore[attr-defined]

        with sink:
            summary = migrate_source(settings, source, None, progress=sink, on_run_ready=ready)
            sink.finish()
        print_summary(console, summary)
        loaded = sample.target_counts(pg.dsn("demo"), [t.target for t in summary.tables])
        for t in summary.tables:
            expected = counts.get(t.source_table)
            ok = loaded[t.target] == expected
            mark = "[green]ok[/]" if ok else "[red]MISMATCH[/]"
            console.print(
                f"{mark} {t.target}: {loaded[t.target]:,} rows in PostgreSQL, "
                f"{expected:,} in Snowflake"
            )
            if not ok:
                return 1
        if keep:
            kept = True
            print_next_steps(console, workdir, config_path, {**fs.env(), **pg.env()}, summary)
            # The stand-in and the fakesnow server behind it (plain fakesnow: one process).
            upstream = getattr(fs, "upstream", None)
            pids = [fs.process.pid, *([upstream.process.pid] if upstream is not None else [])]
            (workdir / FAKESNOW_PID).write_text("\n".join(str(p) for p in pids))
            console.print(
                f"stop them with: snowpg demo --stop --dir {shlex.quote(str(workdir))}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        else:
            console.print(
                "done — run `snowpg demo --keep` to keep the servers running and try "
                "`snowpg status`, `serve`, `report` and `verify` on them"
            )
        return summary.exit_code
    finally:
        if not kept:
            fs.stop()
            if pg is not None:
                pg.stop()


def print_next_steps(
    console: Console, workdir: Path, config: Path, env: dict[str, str], summary: RunSummary
) -> None:
    """The exact commands to run against the servers left running (copy and paste them)."""
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    cfg = shlex.quote(str(config))
    lines = [
        f"export {exports}",
        f"snowpg status --config {cfg}",
        f"snowpg report --config {cfg} --run {summary.run_id}",
        f"snowpg verify --config {cfg}",
        f"snowpg serve --config {cfg} --port {free_port()}",
    ]
    console.print(
        f"the servers keep running (data in {workdir}); try, in a shell:", highlight=False
    )
    for line in lines:
        console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)


def _runtime_dir(workdir: Path) -> None:
    """pgserver resolves a runtime directory; give it one in the work dir instead of a warning."""
    current = os.environ.get("XDG_RUNTIME_DIR")
    if current and _private_dir(Path(current)):
        return
    run = workdir / "run"
    run.mkdir(mode=0o700, exist_ok=True)
    run.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(run)


def _private_dir(path: Path) -> bool:
    """What platformdirs accepts without a warning: our own directory, mode 0700."""
    try:
        st = path.stat()
    except OSError:
        return False
    return path.is_dir() and st.st_uid == os.getuid() and (st.st_mode & 0o777) == 0o700


def stop_demo(workdir: Path, console: Console) -> int:
    """``snowpg demo --stop``: end the servers a ``--keep`` demo left running in ``workdir``."""
    workdir = workdir.resolve()
    _runtime_dir(workdir)
    pid_file = workdir / FAKESNOW_PID
    stopped = []
    if pid_file.is_file():
        for line in pid_file.read_text().split():
            try:
                os.kill(int(line), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                continue
            if "the Snowflake stand-in" not in stopped:
                stopped.append("the Snowflake stand-in")
        pid_file.unlink()
    if (workdir / "postgres" / "postmaster.pid").is_file():
        stop_embedded_postgres(workdir / "postgres")
        stopped.append("PostgreSQL")
    console.print(
        f"stopped {' and '.join(stopped)} in {workdir}"
        if stopped
        else f"nothing runs in {workdir}",
        highlight=False,
    )
    return 0

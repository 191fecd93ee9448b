"""``snowpg demo``: a real migration between local stand-ins, from nothing to a summary."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import psycopg
from rich.console import Console

from snowpg.cli.progress import BarsProgress, PlainProgress
from snowpg.cli.render import print_summary
from snowpg.config import load_settings
from snowpg.demo import sample
from snowpg.demo.servers import start_embedded_postgres, start_snowflake
from snowpg.engine import migrate_source


def run_demo(
    workdir: Path,
    rows: int,
    threads: int,
    console: Console,
    err_console: Console,
    batch_size: int = 50_000,
) -> int:
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]snowpg demo[/] — working in {workdir}")
    console.print("starting the Snowflake stand-in (fakesnow behind the service's wire format) ...")
    fs = start_snowflake(workdir / "fakesnow")
    pg = None
    try:
        console.print("starting an embedded PostgreSQL (pgserver wheel) ...")
        pg = start_embedded_postgres(workdir / "postgres")
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'demo'").fetchone() is None:
                conn.execute("CREATE DATABASE demo")
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
        with psycopg.connect(pg.dsn("demo")) as conn:
            for t in summary.tables:
                schema, table = t.target.split(".", 1)
                n = conn.execute(
                    psycopg.sql.SQL("SELECT count(*) FROM {}.{}").format(
                        psycopg.sql.Identifier(schema), psycopg.sql.Identifier(table)
                    )
                ).fetchone()
                expected = counts.get(t.source_table)
                ok = n is not None and n[0] == expected
                mark = "[green]ok[/]" if ok else "[red]MISMATCH[/]"
                console.print(
                    f"{mark} {t.target}: {n[0] if n else 0:,} rows in PostgreSQL, "
                    f"{expected:,} in Snowflake"
                )
                if not ok:
                    return 1
        console.print(
            "done — run `snowpg demo` again to repeat (target tables are truncated on start)"
        )
        return summary.exit_code
    finally:
        fs.stop()
        if pg is not None:
            pg.stop()

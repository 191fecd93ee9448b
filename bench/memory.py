"""Peak RSS of ``snowpg migrate`` against the memory formula, per server and result-chunk size.

    .venv/bin/python -m bench.memory --rows 400000

Runs every THREADSxBATCH[xMAXMB] setting of ``--settings`` on bare fakesnow (each query's result
one inline rowset) and on the wire stand-in with each result-chunk size of ``--result-chunk-mb``
(a query's result then arrives as a first inline rowset plus gzip-compressed chunks that the
connector downloads), and prints peak RSS next to ``snowpg.plan.sizing.peak_rss_bound_mb``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import psycopg

from bench import procs, schema
from bench.report import machine
from bench.run import AS_INSTALLED
from bench.server_spec import parse_setting
from snowpg.config.settings import Settings
from snowpg.demo import servers
from snowpg.plan.sizing import (
    BASE_RSS_MB,
    EXTRA_WORKERS,
    PIECE_FACTOR,
    WORKER_MB,
    peak_rss_bound_mb,
)
from snowpg.snowflake.reader import read_chunk

DATABASE = "MEMDB"
PG_DATABASE = "snowpg_memory"
DEFAULT_MAX_CHUNK_MB = float(Settings.model_fields["max_chunk_mb"].default)


def arrow_row_bytes(conn: Any, table: str = schema.TABLE) -> float:
    """Arrow bytes a row of ``table`` takes in snowpg's reader (the formula's row size), over
    its first 20,000 IDs."""
    tables = list(read_chunk(conn, f"SELECT * FROM {table} WHERE ID < 20000", None))
    rows = int(sum(t.num_rows for t in tables))
    return float(sum(t.nbytes for t in tables)) / max(1, rows)


def migrate(
    work: Path, env: dict[str, str], threads: int, batch: int, max_mb: float
) -> procs.ProcResult:
    name = f"mem_{threads}x{batch}x{max_mb:g}_{int(time.time() * 1000)}"
    config = {
        "parallel_threads": threads,
        "batch_size": batch,
        "max_chunk_mb": max_mb,
        "sources": [
            {
                "source_name": name,
                "source_sf_database": DATABASE,
                "source_sf_schema": "PUBLIC",
                "target_pg_database": PG_DATABASE,
                "target_pg_schema": "public",
                "tables": [{"source": schema.TABLE, "truncate_onstart": True}],
            }
        ],
    }
    path = work / f"{name}.json"
    path.write_text(json.dumps(config))
    cmd = procs.snowpg_command("migrate", "--config", str(path))
    group = procs.run_together([cmd], env, work / "logs", name)
    if not group.ok:
        raise SystemExit(f"snowpg migrate failed; see {group.procs[0].log}")
    return group.procs[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=400_000)
    p.add_argument("--settings", default="4x20000,2x50000,4x50000x16,4x100000x32")
    p.add_argument("--result-chunk-mb", default="1,4", help="stand-in result chunk sizes")
    p.add_argument("--work-dir", default=".bench-work/memory")
    args = p.parse_args(argv)
    work = Path(args.work_dir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    dsn = os.environ.get("SNOWPG_TEST_POSTGRES_DSN")
    pg = servers.postgres_from_dsn(dsn) if dsn else servers.start_embedded_postgres(work / "pg")
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DATABASE}")
    results: list[dict[str, Any]] = []
    sizes = [float(x) for x in args.result_chunk_mb.split(",") if x.strip()]
    print(f"snowpg memory, {args.rows:,} rows; {machine()}; {time.strftime('%Y-%m-%d %H:%M')}")
    sf: servers.StandinServer | None = None
    try:
        sf = servers.start_standin(work / "sf")
        conn = sf.connect()
        schema.create_table(conn, DATABASE, args.rows)
        conn.close()
        conn = sf.connect(database=DATABASE, schema="PUBLIC", arrow_number_to_decimal=True)
        row_bytes = arrow_row_bytes(conn)
        conn.close()
        env = {**sf.env(), **pg.env(), "PYTHONPATH": str(AS_INSTALLED)}
        for mb in [0.0, *sizes]:
            # 0: fakesnow's own answers, one inline rowset per query (the stand-in only adds the
            # login fields connector 5.x needs)
            sf.control(reset=True)
            result_bytes = int(mb * 2**20) if mb else None
            if result_bytes:
                sf.control(chunk_bytes=result_bytes)
                server_kind = f"stand-in, {mb:g} MiB result chunks"
            else:
                sf.control(reshape=False)
                server_kind = "fakesnow answers (inline)"
            for setting in args.settings.split(","):
                threads, batch, mb_cap = parse_setting(setting)
                max_mb = DEFAULT_MAX_CHUNK_MB if mb_cap is None else mb_cap
                before = sf.stats()
                proc = migrate(work, env, threads, batch, max_mb)
                after = sf.stats()
                bound = peak_rss_bound_mb(threads, batch, row_bytes, max_mb, result_bytes)
                row = {
                    "server": server_kind,
                    "setting": setting,
                    "row_bytes": row_bytes,
                    "queries": after.get("queries", 0) - before.get("queries", 0),
                    "downloaded": after.get("chunks_served", 0) - before.get("chunks_served", 0),
                    "rss_mb": proc.max_rss_mb,
                    "bound_mb": bound,
                    "seconds": proc.seconds,
                }
                results.append(row)
                print(json.dumps(row), flush=True)
    finally:
        if sf is not None:
            sf.stop()
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        if not dsn:
            pg.stop()
    print(
        f"\nformula: {BASE_RSS_MB:g} MB + (threads + {EXTRA_WORKERS}) x ({WORKER_MB:g} MB + piece MB x "
        f"{PIECE_FACTOR:g}), piece = min(chunk, result chunk)\n"
    )
    print(
        "| server | threads x batch (max_chunk_mb) | downloaded chunks | peak RSS MB | formula MB |"
    )
    print("|---|---|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['server']} | {r['setting']} | {r['downloaded']} | {r['rss_mb']:.0f} | "
            f"{r['bound_mb']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

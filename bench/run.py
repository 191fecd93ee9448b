"""snowpg benchmark: ceilings, snowpg end to end, naive baselines, scale-out — one command.

    .venv/bin/python -m bench.run --rows 1000000

Starts a fakesnow server (restarted between heavy phases: its memory grows with every full-table
fetch) and an embedded PostgreSQL (or uses ``SNOWPG_TEST_POSTGRES_DSN``), generates the mixed
table, measures everything in one run, prints a table, and stops both servers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

import snowpg
from bench import ceilings, procs, report, schema
from bench.report import Row, load, machine
from bench.server_spec import Server, parse_servers, parse_setting
from snowpg.config.settings import Settings
from snowpg.demo import servers

DATABASE = "BENCHDB"
PG_DATABASE = "snowpg_bench"


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work_dir).resolve()
        self.results: list[Row] = []
        self.fake: servers.FakesnowServer | None = None
        self.pg: servers.LocalPostgres | None = None
        self.bytes_per_row = 0.0
        self.server = Server("", latency=args.latency, plain=args.plain_fakesnow)
        self.verdicts: list[str] = []

    # servers ---------------------------------------------------------------------------
    def start(self) -> None:
        shutil.rmtree(self.work / "fakesnow", ignore_errors=True)
        dsn = os.environ.get("SNOWPG_TEST_POSTGRES_DSN")
        if dsn:
            self.pg = servers.postgres_from_dsn(dsn)
        else:
            self.pg = servers.start_embedded_postgres(self.work / "pg")
        with psycopg.connect(self.pg.dsn(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_DATABASE}")
        self.restart_fakesnow()

    def restart_fakesnow(self) -> None:
        """A fresh server holding a freshly generated table (in server mode fakesnow keeps its
        databases in memory only, and regenerating 1M rows takes about a second)."""
        if self.fake is not None:
            self.fake.stop()
        self.fake = servers.start_snowflake(
            self.work / "fakesnow", plain=self.server.plain or None, latency_s=self.server.latency
        )
        if isinstance(self.fake, servers.StandinServer):
            self.fake.control(**self.server.control(self.args.standin_chunk_mb))
        self.generate()

    def stop(self) -> None:
        if self.fake is not None:
            self.fake.stop()
        if self.pg is not None:
            with psycopg.connect(self.pg.dsn(), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            self.pg.stop()

    def sf(self) -> Any:
        assert self.fake is not None
        return self.fake.connect(
            network_timeout=600, database=DATABASE, schema="PUBLIC", arrow_number_to_decimal=True
        )

    def dsn(self) -> str:
        assert self.pg is not None
        return self.pg.dsn(PG_DATABASE)

    def env(self, snowpg: bool = True) -> dict[str, str]:
        """Server settings; for snowpg processes also the as-installed import path."""
        assert self.fake is not None and self.pg is not None
        env = {**self.fake.env(), **self.pg.env()}
        if snowpg:
            # this checkout's snowpg (and bench), not whatever the venv's editable install names
            paths = [str(SNOWPG_SRC), str(BENCH_ROOT)]
            if not getattr(self.args, "with_pandas", False):
                paths.insert(0, str(AS_INSTALLED))
            env["PYTHONPATH"] = os.pathsep.join(paths)
        return env

    def say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    # phases ----------------------------------------------------------------------------
    def generate(self) -> None:
        t0 = time.perf_counter()
        conn = self.sf()
        schema.create_table(conn, DATABASE, self.args.rows)
        conn.close()
        self.say(f"generated {self.args.rows:,} rows in {time.perf_counter() - t0:.1f}s")

    def ceilings(self) -> None:
        a = self.args
        self.restart_fakesnow()
        timed, tables = ceilings.source_ranged(
            self.sf, a.rows, a.batch_size or DEFAULT_BATCH, a.threads
        )
        self.bytes_per_row = sum(t.nbytes for t in tables.values()) / max(1, timed.rows)
        self.add(
            Row(
                "source ceiling: key ranges",
                timed.rows,
                timed.seconds,
                cpu_s=timed.cpu_seconds,
                note=timed.note,
            )
        )
        self.restart_fakesnow()
        timed = ceilings.source_single(self.sf)
        self.add(Row("source: one query", timed.rows, timed.seconds, note=timed.note))
        for fmt, ceiling in (("binary", True), ("csv", False)):
            enc, encoded = ceilings.encode_all(tables, fmt)
            self.add(
                Row(
                    f"encode Arrow->{fmt} only",
                    enc.rows,
                    enc.seconds,
                    None,
                    enc.cpu_seconds,
                    note="snowpg's encoder, one thread, CPU in the cpu column",
                )
            )
            timed = ceilings.sink_copy(self.dsn(), encoded, a.rows, a.threads, fmt)
            # snowpg writes binary COPY, so that is the sink ceiling; CSV is for comparison.
            name = "sink ceiling: binary COPY" if ceiling else "sink: CSV COPY"
            self.add(Row(name, timed.rows, timed.seconds, note=timed.note))
            del encoded
        timed = ceilings.sink_adbc(self.dsn(), tables, a.rows, a.threads)
        self.add(Row("sink: ADBC binary COPY", timed.rows, timed.seconds, note=timed.note))
        del tables

    def standin_stats(self) -> dict[str, int]:
        return self.fake.stats() if isinstance(self.fake, servers.StandinServer) else {}

    def snowpg(
        self,
        label: str,
        threads: int,
        batch: int | None,
        processes: int = 1,
        profile: bool = False,
        max_mb: float | None = None,
        source_alone: bool = False,
    ) -> None:
        """One ``snowpg migrate`` run (``processes`` of them together); with ``source_alone``
        also the same chunk queries fetched and discarded on a fresh server afterwards."""
        self.restart_fakesnow()
        label = self.server.prefix + label
        name = f"{re.sub(r'[^a-z0-9]+', '_', label.lower()).strip('_')}_{int(time.time())}"
        config: dict[str, Any] = {
            "parallel_threads": threads,
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
        if batch is not None:
            config["batch_size"] = batch
        if max_mb is not None:
            config["max_chunk_mb"] = max_mb
        path = self.work / f"{name}.json"
        path.write_text(json.dumps(config))
        marks = [self.work / f"{name}.{i}.startup.json" for i in range(processes)]
        cmds = [procs.timed_snowpg_command(m, "migrate", "--config", str(path)) for m in marks]
        if profile:
            # py-spy samples every thread (pyinstrument would see only the idle main thread).
            out = self.work / f"{name}.pyspy.txt"
            spy = str(Path(cmds[0][0]).with_name("py-spy"))
            if not Path(spy).exists():
                spy = shutil.which("py-spy") or spy
            cmds = [[spy, "record", "--format", "raw", "-r", "50", "-o", str(out), "--", *cmds[0]]]
        busy0 = ceilings.machine_busy()
        before = self.standin_stats()
        group = procs.run_together(cmds, self.env(), self.work / "logs", name)
        cores = ceilings.cores_busy(busy0, ceilings.machine_busy())
        after = self.standin_stats()
        if not group.ok:
            logs = ", ".join(str(p.log) for p in group.procs if p.returncode)
            raise SystemExit(f"snowpg migrate failed ({label}); see {logs}")
        with psycopg.connect(self.dsn()) as conn:
            got = conn.execute("SELECT count(*) FROM public.bench").fetchone()
        rows = int(got[0]) if got else 0
        if rows != self.args.rows:
            raise SystemExit(f"{label}: target holds {rows} rows, expected {self.args.rows}")
        note = f"parallel_threads={threads}, batch_size={batch if batch is not None else 'unset'}"
        if max_mb is not None:
            note += f", max_chunk_mb={max_mb:g}"
        queries: int | None = None
        chunk_queries: list[str] = []
        if before and after and isinstance(self.fake, servers.StandinServer):
            queries = after["queries"] - before["queries"]
            chunk_queries = [q for q in self.fake.queries(before["queries"]) if is_chunk_query(q)]
            note += (
                f"; {queries} queries ({len(chunk_queries)} chunks), "
                f"{after['chunks_served'] - before['chunks_served']} result chunks downloaded"
            )
        note += f"; machine: {cores:.1f} cores busy"
        if processes > 1:
            note += f", {processes} processes (RSS: largest one; CPU: sum)"
        if profile:  # the figures would be py-spy's (RSS) or include it (CPU)
            note += "; RSS/CPU not measured under py-spy"
            self.add(Row(label, rows, group.seconds, None, None, note, queries=queries))
            return
        startup = procs.startup_cpu_seconds(marks)
        if startup is not None:
            note += f"; start-up {startup:.2f} CPU s"
        row = Row(label, rows, group.seconds, group.max_rss_mb, group.cpu_seconds, note)
        row.startup_cpu_s, row.queries = startup, queries
        if source_alone and chunk_queries:
            row.source_alone_s = self.source_alone(label, chunk_queries, threads)
        self.add(row)
        if source_alone:
            self.verdicts.append(report.verdict(row))

    def source_alone(self, label: str, queries: list[str], threads: int) -> float:
        """The chunk queries of a snowpg run, replayed on a fresh server with the same latency
        and connections, fetched through snowpg's reader and discarded; adds its row."""
        self.restart_fakesnow()
        timed = ceilings.source_replay(self.sf, queries, threads)
        if timed.rows != self.args.rows:
            raise SystemExit(f"source alone: {timed.rows} rows, expected {self.args.rows}")
        self.add(Row(f"{label}: source alone", timed.rows, timed.seconds, None, timed.cpu_seconds,
                     timed.note, queries=len(queries)))  # fmt: skip
        return timed.seconds

    def baseline(self, kind: str, rows: int) -> None:
        self.restart_fakesnow()
        rows = min(rows, self.args.rows)
        cmd = [
            procs.snowpg_command()[0],
            "-m",
            "bench.baselines",
            kind,
            "--rows",
            str(rows),
            "--database",
            DATABASE,
            "--dsn",
            self.dsn(),
        ]
        group = procs.run_together([cmd], self.env(snowpg=False), self.work / "logs", kind)
        proc = group.procs[0]
        if not group.ok:
            self.say(f"baseline {kind} failed; see {proc.log}")
            return
        out = json.loads(proc.log.read_text().strip().splitlines()[-1])
        scale = self.args.rows / out["rows"]
        note = f"run on {out['rows']:,} rows, time extrapolated x{scale:g}" if scale != 1 else ""
        self.add(
            Row(
                f"naive: {kind}",
                self.args.rows,
                out["seconds"] * scale,
                proc.max_rss_mb,
                proc.cpu_seconds * scale,
                note,
            )
        )

    def add(self, row: Row) -> None:
        self.results.append(row)
        self.say(f"{row.name}: {row.rows:,} rows in {row.seconds:.2f}s {row.note}")

    def table(self) -> str:
        return report.table(self.results, self.bytes_per_row)


# sitecustomize that hides pandas from snowpg processes, as in a user's install (see its docstring).
AS_INSTALLED = Path(__file__).resolve().parent / "as_installed"
BENCH_ROOT = Path(__file__).resolve().parents[1]
SNOWPG_SRC = Path(snowpg.__file__).resolve().parents[1]
# The stand-in's per-query compile + queue time for the snowpg / source-alone comparison.
DEFAULT_LATENCY_S = 0.2

# "default" means what a user gets without setting anything.
DEFAULT_THREADS = int(Settings.model_fields["parallel_threads"].default)
# batch_size is unset by default (chunks sized by max_chunk_mb, plan/sizing.py), and the
# "snowpg default" row leaves it unset; the key-range ceiling still needs rows per chunk.
DEFAULT_BATCH = 20_000


def is_chunk_query(sql_text: str) -> bool:
    """Whether a logged query is one of snowpg's chunk reads of the benchmark table (every
    column by its quoted name; planning reads counts, keys and lengths)."""
    return sql_text.lstrip().startswith(CHUNK_SELECT)


CHUNK_SELECT = "SELECT " + ", ".join(f'"{c}"' for c in schema.SF_NAMES.split(", "))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument(
        "--latency",
        type=float,
        default=DEFAULT_LATENCY_S,
        help="stand-in per-query compile+queue seconds (default %(default)s)",
    )
    p.add_argument(
        "--plain-fakesnow",
        action="store_true",
        help="bare fakesnow, no stand-in (needs connector 4.x: 5.x cannot log in to it; "
        "--servers fakesnow gives fakesnow's answers unchanged through the stand-in)",
    )
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="snowpg's default")
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="batch_size of the default run (unset: snowpg's default sizing; the key-range "
        f"ceiling then uses {DEFAULT_BATCH:,} rows)",
    )
    p.add_argument(
        "--tuned",
        default="2x50000",
        help="tuned setting, THREADSxBATCH[xMAX_CHUNK_MB] ('' for none)",
    )
    p.add_argument("--sweep", default="", help="more settings: THREADSxBATCH[xMAX_CHUNK_MB],...")
    p.add_argument(
        "--servers",
        default="",
        help="run the snowpg rows on each: fakesnow,standin,standin@0.2 (latency s)",
    )
    p.add_argument("--standin-chunk-mb", type=float, help="stand-in result chunk size (MiB)")
    p.add_argument("--skip-ceilings", action="store_true")
    p.add_argument(
        "--skip-source-alone",
        action="store_true",
        help="do not replay the default run's chunk queries without snowpg",
    )
    p.add_argument("--pandas-rows", type=int, default=200_000, help="rows for the pandas baseline")
    p.add_argument("--executemany-rows", type=int, default=50_000)
    p.add_argument("--scale", default="1,2,4", help="process counts for scale-out ('' to skip)")
    p.add_argument("--skip-baselines", action="store_true")
    p.add_argument(
        "--with-pandas",
        action="store_true",
        help="run snowpg with the dev venv's pandas importable (+~33 MB RSS; users have none)",
    )
    p.add_argument("--profile", action="store_true", help="py-spy an extra default snowpg run")
    p.add_argument("--work-dir", default=".bench-work")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    bench = Bench(args)
    first = bench.server
    steps: list[tuple[Server, Callable[[], None]]] = []
    if not args.skip_ceilings:
        steps.append((first, bench.ceilings))
    run = bench.snowpg
    for server in parse_servers(args.servers) or [first]:
        alone = not args.skip_source_alone
        default = partial(run, "snowpg default", args.threads, args.batch_size, source_alone=alone)
        steps.append((server, default))
        if args.tuned.strip():
            t, b, m = parse_setting(args.tuned)
            steps.append((server, partial(run, "snowpg tuned", t, b, max_mb=m)))
        for setting in [x for x in args.sweep.split(",") if x.strip()]:
            st, sb, mb = parse_setting(setting)
            steps.append((server, partial(run, f"snowpg {setting.strip()}", st, sb, max_mb=mb)))
    if args.profile:
        steps.append(
            (first, partial(run, "profiled (py-spy)", args.threads, args.batch_size, profile=True))
        )
    if not args.skip_baselines:
        steps.append((first, partial(bench.baseline, "pandas", args.pandas_rows)))
        steps.append((first, partial(bench.baseline, "executemany", args.executemany_rows)))
    for n in [int(x) for x in args.scale.split(",") if x.strip()]:
        label = f"scale-out {n} proc"
        steps.append((first, partial(run, label, args.threads, args.batch_size, n)))
    print(f"snowpg benchmark, {args.rows:,} rows; {machine()}; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"versions: {report.versions()}; stand-in latency {args.latency:g} s per query")
    print(f"command: python -m bench.run {shlex.join(argv if argv is not None else sys.argv[1:])}")
    print(f"load average at start: {load()}")
    try:
        bench.start()
        with psycopg.connect(bench.dsn()) as conn:
            got = conn.execute("SHOW server_version").fetchone()
        print(f"PostgreSQL {got[0] if got else '?'}")
        for server, step in steps:
            bench.server = server
            step()
    finally:
        bench.stop()
    print(f"load average at end: {load()}")
    print(f"\nbytes per row (Arrow, in memory): {bench.bytes_per_row:.0f}")
    print("x ceiling = rows/s divided by min(source ceiling, sink ceiling)")
    print("x source alone = rows/s divided by the rows/s of the run's own chunk queries fetched")
    print("  and discarded (same server, latency and connections; start-up and planning excluded)")
    print("CPU s/M excl. start-up = (process CPU - CPU at the end of its imports) per M rows\n")
    print(bench.table())
    if bench.verdicts:
        print("\nacceptance (snowpg defaults against the same chunk queries fetched alone):")
        print("\n".join(bench.verdicts))
    if args.json:
        Path(args.json).write_text(
            json.dumps([r.__dict__ for r in bench.results] + [{"machine": machine()}], indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

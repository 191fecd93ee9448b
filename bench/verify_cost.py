"""What a full ``snowpg verify`` costs on the stand-in: wall time, Snowflake queries, and the time
of each side's checksum queries, for one or more snowpg source trees on the same data.

    python -m bench.verify_cost --rows 1000000 --batch-size 50000 \
        --tree before=/work/main/src --tree after=src

The table is the benchmark's mixed schema without its VARIANT column (a JSON column moves
verification to the client; this measures the server-side checksums). It is migrated once, with
the first tree; each tree then verifies it (``--full`` where the tree knows it) and, in a separate
process, runs only its checksum queries, one side at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from snowpg.demo import servers

DATABASE = "VERIFYDB"
PG_DATABASE = "snowpg_verify_bench"
TABLE = "VBENCH"
COLUMNS = (
    "ID NUMBER(38,0) PRIMARY KEY, CUSTOMER_ID NUMBER(18,0), AMOUNT NUMBER(12,2), "
    "PRICE NUMBER(18,6), RATIO FLOAT, CODE VARCHAR(16), DESCRIPTION VARCHAR, FLAG BOOLEAN, "
    "D DATE, TS TIMESTAMP_NTZ, TSZ TIMESTAMP_TZ, BLOB BINARY"
)
SELECT = (
    "seq4(), mod(seq4() * 7919, 1000003), (mod(seq4() * 37, 10000000) / 100)::number(12,2), "
    "(mod(seq4() * 131, 100000000) / 1000000)::number(18,6), mod(seq4(), 9973) / 7.0, "
    "'C-' || lpad(to_varchar(mod(seq4(), 99991)), 6, '0'), "
    "'order ' || seq4() || ': ' || repeat('lorem ipsum dolor sit amet, ', 1 + mod(seq4(), 6)), "
    "mod(seq4(), 3) = 0, dateadd(day, mod(seq4(), 3650), '2015-01-01'::date), "
    "dateadd(second, seq4(), '2020-01-01 00:00:00'::timestamp_ntz), "
    "dateadd(second, seq4() * 3, '2021-06-01 12:00:00'::timestamp_tz), "
    "to_binary(lpad(to_varchar(mod(seq4(), 65536), 'XXXX'), 4, '0'), 'HEX')"
)

# Run in a child process with one tree on its path: each side's checksum queries, timed.
_SIDES = """
import json, os, sys, time
def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
from snowpg.config import load_settings
from snowpg.postgres import connection
from snowpg.postgres.checksums import pg_checksums
from snowpg.snowflake import reader, session
from snowpg.snowflake.checksums import sf_checksums
from snowpg.status import store
from snowpg.model import ChunkRange
from snowpg.verify import compare, run
try:
    from snowpg.verify.specs import table_spec
except ImportError:  # a tree from before verify/specs.py
    table_spec = run._spec
settings = load_settings(__import__("pathlib").Path(sys.argv[1]))
src = settings.sources[0]
pg = connection.connect(settings.postgres, src.target_pg_database)
row = store.table_rows(pg, store.latest_run_id(pg, src.source_name))[0]
chunks = [(c.key.chunk_id, ChunkRange.from_json(c.chunk_range)) for c in store.list_chunks(pg, row.key)]
pg.commit()
sf = session.connect(settings.snowflake, database=row.key.source_database, schema=row.key.source_schema)
spec = table_spec(sf, row)
groups = [chunks[i:i + compare.CHUNKS_PER_QUERY] for i in range(0, len(chunks), compare.CHUNKS_PER_QUERY)]
backend = pg.execute("SELECT pg_backend_pid()").fetchone()[0]
pg.rollback()
engine = int(sys.argv[2])
c0, t0 = cpu(engine), time.perf_counter()
n_sf = sum(len(list(reader.run_all(sf, *sf_checksums(spec, g)))) for g in groups)
c1, t1 = cpu(engine), time.perf_counter()
b0 = cpu(backend)
n_pg = 0
for g in groups:
    q, p = pg_checksums(spec, g)
    n_pg += len(pg.execute(q, p).fetchall())
    pg.rollback()
b1, t2 = cpu(backend), time.perf_counter()
print(json.dumps({"sf_seconds": round(t1 - t0, 2), "sf_engine_cpu": round(c1 - c0, 2),
                  "pg_seconds": round(t2 - t1, 2), "pg_backend_cpu": round(b1 - b0, 2),
                  "groups": len(groups), "chunks": len(chunks), "sf_rows": n_sf, "pg_rows": n_pg}))
"""


def _pg_transactions(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        got = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (PG_DATABASE,),
        ).fetchone()
    return int(got[0]) if got else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch-size", type=int, default=50_000)
    ap.add_argument("--latency", type=float, default=0.2, help="stand-in latency per query (s)")
    ap.add_argument("--tree", action="append", required=True, help="NAME=path of a snowpg src")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    trees = [t.split("=", 1) for t in args.tree]
    work = Path(tempfile.mkdtemp(prefix="snowpg-verify-bench-"))
    pg = servers.start_embedded_postgres(work / "pg")
    fake = servers.start_snowflake(work / "fakesnow", latency_s=args.latency)
    try:
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {PG_DATABASE}")
        sf = fake.connect(network_timeout=600)
        cur = sf.cursor()
        cur.execute(f"CREATE DATABASE {DATABASE}")
        cur.execute(f"CREATE SCHEMA {DATABASE}.PUBLIC")
        cur.execute(f"USE SCHEMA {DATABASE}.PUBLIC")
        cur.execute(f"CREATE TABLE {TABLE} ({COLUMNS})")
        cur.execute(
            f"INSERT INTO {TABLE} SELECT {SELECT} FROM TABLE(GENERATOR(ROWCOUNT => {args.rows}))"
        )
        sf.close()
        config = {
            "parallel_threads": 2,
            "batch_size": args.batch_size,
            "sources": [
                {
                    "source_name": "vbench",
                    "source_sf_database": DATABASE,
                    "source_sf_schema": "PUBLIC",
                    "target_pg_database": PG_DATABASE,
                    "target_pg_schema": "public",
                    "tables": [{"source": TABLE}],
                }
            ],
        }
        cfg = work / "config.json"
        cfg.write_text(json.dumps(config))
        env = {**os.environ, **fake.env(), **pg.env(), "PYTHONUNBUFFERED": "1"}
        # The process that runs the Snowflake side's SQL (DuckDB inside fakesnow).
        upstream = getattr(fake, "upstream", None) or fake
        engine = upstream.process.pid
        cli = [sys.executable, "-m", "snowpg.cli.app"]

        def run(tree: str, *cmd: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                cmd, env={**env, "PYTHONPATH": tree}, capture_output=True, text=True, check=False
            )

        t0 = time.perf_counter()
        done = run(trees[0][1], *cli, "migrate", "--config", str(cfg))
        if done.returncode != 0:
            raise SystemExit(done.stdout + done.stderr)
        print(f"migrated {args.rows:,} rows in {time.perf_counter() - t0:.1f}s", flush=True)
        results: list[dict[str, Any]] = []
        has_full = {t: "--full" in run(t, *cli, "verify", "--help").stdout for _n, t in trees}
        for _ in range(args.repeat):  # interleaved, so both see the same machine load
            for name, tree in trees:
                q0 = fake.stats()["queries"] if isinstance(fake, servers.StandinServer) else 0
                x0 = _pg_transactions(pg.dsn())
                t0 = time.perf_counter()
                extra = ["--full"] if has_full[tree] else []
                out = run(tree, *cli, "verify", "--config", str(cfg), *extra)
                seconds = time.perf_counter() - t0
                if out.returncode != 0:
                    raise SystemExit(out.stdout + out.stderr)
                q1 = fake.stats()["queries"] if isinstance(fake, servers.StandinServer) else 0
                sides = run(tree, sys.executable, "-c", _SIDES, str(cfg), str(engine))
                if sides.returncode != 0:
                    raise SystemExit(sides.stderr)
                row = {
                    "tree": name,
                    "verify_seconds": round(seconds, 2),
                    "snowflake_queries": q1 - q0,
                    "pg_transactions": _pg_transactions(pg.dsn()) - x0,
                    **json.loads(sides.stdout.strip().splitlines()[-1]),
                }
                results.append(row)
                print(json.dumps(row), flush=True)
        return 0
    finally:
        fake.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

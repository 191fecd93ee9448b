"""Incremental sync benchmark: bulk-load N rows, change 10% of them, time the incremental run.

``python -m bench.incremental --rows 1000000`` starts a fakesnow server and an embedded PostgreSQL
in ``--work-dir``, bulk-loads the table (timed), then updates 5% and inserts 5% new rows (a 10%
change set) and times one incremental run (watermark window + staging COPY + ON CONFLICT merge per
chunk). Prints one JSON line per phase with rows and rows/s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import psycopg

from snowpg.config import parse_settings
from snowpg.demo import servers
from snowpg.run.migrate import migrate_source

DATABASE = "BENCH_INC"
PG_DATABASE = "bench_incremental"
COLUMNS = (
    'ID NUMBER(38,0) PRIMARY KEY, "Payer Id" VARCHAR(30), AMOUNT NUMBER(12,2), QTY INT, '
    "FLAG BOOLEAN, D DATE, NOTE VARCHAR, UPDATED_AT TIMESTAMP_NTZ"
)


def _select(offset: int, note: str, base_ts: str) -> str:
    return (
        f"{offset} + seq4(), 'P ' || lpad(to_varchar(mod(seq4() * 7919, 100000)), 6, '0'), "
        "(mod(seq4() * 37, 100000) / 100)::number(12,2), mod(seq4(), 17) - 8, mod(seq4(), 3) = 0, "
        "dateadd(day, mod(seq4(), 3650), '2015-01-01'::date), "
        f"'{note} ' || seq4(), dateadd(second, seq4(), '{base_ts}'::timestamp_ntz)"
    )


def _settings(fake: servers.FakesnowServer, pg: servers.LocalPostgres, args: Any) -> Any:
    data = {
        "snowflake": {"account": "fakesnow", "user": "snowpg", "password": "fakesnow-password",
                      "host": fake.host, "port": fake.port, "protocol": "http"},
        "postgres": {"host": pg.host, "port": pg.port, "user": pg.user,
                     "password": pg.password or None},
        "parallel_threads": args.threads,
        "batch_size": args.batch_size,
        "sources": [{
            "source_name": "bench", "source_sf_database": DATABASE, "source_sf_schema": "PUBLIC",
            "target_pg_database": PG_DATABASE, "target_pg_schema": "public",
            "tables": [{"source": "ORDERS", "uniqueness_columns": ["ID"],
                        "source_watermark": "UPDATED_AT"}],
        }],
    }  # fmt: skip
    return parse_settings(data, {})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--change", type=float, default=0.10, help="fraction of rows changed")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=100_000)
    p.add_argument("--work-dir", default="/tmp/snowpg-bench-incremental")
    args = p.parse_args()
    work = Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    pg = servers.start_embedded_postgres(work / "pg")
    fake = servers.start_snowflake(work / "fakesnow")
    try:
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_DATABASE}")
        sf = fake.connect(network_timeout=600)
        cur = sf.cursor()
        cur.execute(f"CREATE DATABASE {DATABASE}")
        cur.execute(f"USE DATABASE {DATABASE}")
        cur.execute("CREATE SCHEMA IF NOT EXISTS PUBLIC")
        cur.execute("USE SCHEMA PUBLIC")
        cur.execute(f"CREATE TABLE ORDERS ({COLUMNS})")
        cur.execute(
            f"INSERT INTO ORDERS SELECT {_select(0, 'note', '2024-01-01 00:00:00')} "
            f"FROM TABLE(GENERATOR(ROWCOUNT => {args.rows}))"
        )
        settings = _settings(fake, pg, args)
        source = settings.sources[0]

        t0 = time.perf_counter()
        bulk = migrate_source(settings, source)
        bulk_s = time.perf_counter() - t0
        assert bulk.exit_code == 0, bulk.errors
        print(json.dumps({"phase": "bulk", "rows": bulk.rows, "seconds": round(bulk_s, 2),
                          "rows_per_s": round(bulk.rows / bulk_s)}), flush=True)  # fmt: skip

        changed = int(args.rows * args.change)
        step = max(1, round(args.rows / (changed / 2)))
        cur.execute(
            "UPDATE ORDERS SET NOTE = 'changed', AMOUNT = AMOUNT + 1, "
            f"UPDATED_AT = dateadd(day, 400, UPDATED_AT) WHERE mod(ID, {step}) = 0"
        )
        updated = cur.rowcount
        cur.execute(
            f"INSERT INTO ORDERS SELECT {_select(args.rows, 'new', '2026-01-01 00:00:00')} "
            f"FROM TABLE(GENERATOR(ROWCOUNT => {changed - updated}))"
        )
        sf.close()

        t0 = time.perf_counter()
        inc = migrate_source(settings, source)
        inc_s = time.perf_counter() - t0
        assert inc.exit_code == 0, inc.errors
        with psycopg.connect(pg.dsn(PG_DATABASE)) as conn:
            row = conn.execute("SELECT count(*), count(*) FILTER (WHERE note = 'changed') "
                               "FROM public.orders").fetchone()  # fmt: skip
        assert row == (args.rows + changed - updated, updated), row
        print(json.dumps({"phase": "incremental", "rows_in_table": args.rows,
                          "updated": updated, "inserted": changed - updated,
                          "rows_copied": inc.rows, "seconds": round(inc_s, 2),
                          "rows_per_s": round(inc.rows / inc_s)}), flush=True)  # fmt: skip
    finally:
        fake.stop()
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        pg.stop()


if __name__ == "__main__":
    main()

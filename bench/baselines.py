"""The two loaders users write by hand, run as ``python -m bench.baselines KIND --rows N``.

Each prints one JSON line ``{"rows": ..., "seconds": ...}`` timed from the first query to the
commit (interpreter start-up excluded), so a run on fewer rows can be extrapolated.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import psycopg

from bench import schema


def _source(database: str) -> Any:
    import snowflake.connector

    return snowflake.connector.connect(
        user=os.environ["SNOWFLAKE_USER"],
        password=os.environ["SNOWFLAKE_PASSWORD"],
        account="fakesnow",
        host=os.environ["SNOWFLAKE_HOST"],
        port=int(os.environ["SNOWFLAKE_PORT"]),
        protocol="http",
        database=database,
        schema="PUBLIC",
        network_timeout=600,
        session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
    )


def _select(rows: int) -> str:
    return f"SELECT {schema.SF_NAMES} FROM {schema.TABLE} WHERE ID < {rows}"


def pandas_to_sql(database: str, dsn: str, rows: int) -> int:
    """``fetch_pandas_all`` then ``DataFrame.to_sql`` (SQLAlchemy, default insert method)."""
    import sqlalchemy

    sf = _source(database)
    cur = sf.cursor()
    cur.execute(_select(rows))
    frame = cur.fetch_pandas_all()
    sf.close()
    engine = sqlalchemy.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn))
    frame.to_sql("bench_pandas", engine, if_exists="replace", index=False, chunksize=10_000)
    engine.dispose()
    return len(frame)


def fetchmany_executemany(database: str, dsn: str, rows: int) -> int:
    """``fetchmany`` from Snowflake, ``executemany`` INSERT into PostgreSQL, one transaction."""
    sf = _source(database)
    cur = sf.cursor()
    cur.execute(_select(rows))
    count = 0
    placeholders = ", ".join(["%s"] * len(schema.PG_NAMES.split(",")))
    with psycopg.connect(dsn) as pg:
        pg.execute("DROP TABLE IF EXISTS bench_executemany")
        pg.execute(f"CREATE TABLE bench_executemany ({schema.PG_COLUMNS})")
        insert = f"INSERT INTO bench_executemany ({schema.PG_NAMES}) VALUES ({placeholders})"
        with pg.cursor() as pcur:
            while batch := cur.fetchmany(10_000):
                pcur.executemany(insert, batch)  # type: ignore[arg-type]
                count += len(batch)
        pg.commit()
    sf.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["pandas", "executemany"])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--dsn", required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    fn = pandas_to_sql if args.kind == "pandas" else fetchmany_executemany
    rows = fn(args.database, args.dsn, args.rows)
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()

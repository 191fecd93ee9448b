"""The two ceilings: reading the table as Arrow (source) and COPYing pre-encoded data (sink)."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pyarrow as pa

from bench import schema
from snowpg.copy import binary, binary_plan
from snowpg.copy.encode import encode_batch


@dataclass
class Timed:
    seconds: float
    rows: int
    cpu_seconds: float | None = None
    note: str = ""


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs from /proc/stat; see ``cores_busy``."""
    with open("/proc/stat") as f:
        values = [float(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def cores_busy(before: tuple[float, float], after: tuple[float, float]) -> float:
    """How many cores the whole machine kept busy between two ``machine_busy`` readings."""
    busy, total = after[0] - before[0], after[1] - before[1]
    return (busy / total) * (os.cpu_count() or 1) if total else 0.0


def settle(dsn: str, table: str) -> None:
    """Drop a sink table and checkpoint, so that later phases do not share the server with
    autovacuum and checkpoints of the rows it just loaded."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")  # type: ignore[arg-type]
        conn.execute("CHECKPOINT")


def _parallel(items: list[Any], threads: int, fn: Callable[[int, Any], None]) -> None:
    """``fn(thread_no, item)`` for every item on ``threads`` threads; re-raise the first error."""
    work: queue.Queue[Any] = queue.Queue()
    for item in items:
        work.put(item)
    errors: list[BaseException] = []

    def loop(no: int) -> None:
        while not errors:
            try:
                item = work.get_nowait()
            except queue.Empty:
                return
            try:
                fn(no, item)
            except BaseException as exc:
                errors.append(exc)

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]


def _fetch(conn: Any, sql: str) -> pa.Table:
    # snowpg's own read path (exact decimals, per-chunk decoding on connector 5.x)
    from snowpg.snowflake.reader import read_chunk

    batches = list(read_chunk(conn, sql, None))
    return pa.concat_tables(batches, promote_options="permissive") if batches else pa.table({})


def source_ranged(
    connect: Callable[[], Any], rows: int, batch_size: int, threads: int
) -> tuple[Timed, dict[int, pa.Table]]:
    """Every key range fetched as Arrow on ``threads`` connections, like snowpg's chunks."""
    conns = [connect() for _ in range(threads)]
    out: dict[int, pa.Table] = {}
    ranges = schema.key_ranges(rows, batch_size)

    def one(no: int, rng: tuple[int, int]) -> None:
        sql = f"SELECT {schema.SF_NAMES} FROM {schema.TABLE} WHERE ID >= {rng[0]} AND ID < {rng[1]}"
        out[rng[0]] = _fetch(conns[no], sql)

    started, cpu0, busy0 = time.perf_counter(), time.process_time(), machine_busy()
    _parallel(ranges, threads, one)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu0
    cores = cores_busy(busy0, machine_busy())
    for c in conns:
        c.close()
    got = sum(t.num_rows for t in out.values())
    note = (
        f"{len(ranges)} queries on {threads} connections; CPU: the connector's, in this process; "
        f"machine: {cores:.1f} cores busy"
    )
    return Timed(seconds, got, cpu, note=note), out


def source_replay(connect: Callable[[], Any], queries: list[str], threads: int) -> Timed:
    """ "Source alone": the given chunk queries on ``threads`` connections (opened beforehand),
    each result read through snowpg's reader batch by batch and dropped."""
    from snowpg.snowflake.reader import read_chunk

    conns = [connect() for _ in range(threads)]
    counts: list[int] = []

    def one(no: int, sql: str) -> None:
        rows = 0
        for batch in read_chunk(conns[no], sql.replace("%", "%%"), None):
            rows += batch.num_rows
        counts.append(rows)

    started, cpu0, busy0 = time.perf_counter(), time.process_time(), machine_busy()
    _parallel(queries, threads, one)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu0
    cores = cores_busy(busy0, machine_busy())
    for c in conns:
        c.close()
    note = (
        f"the run's {len(queries)} chunk queries on {threads} connections, fetched and discarded; "
        f"CPU: the connector's, in this process; machine: {cores:.1f} cores busy"
    )
    return Timed(seconds, sum(counts), cpu, note=note)


def source_single(connect: Callable[[], Any]) -> Timed:
    """The whole table as one query (the server returns it as one inline rowset)."""
    conn = connect()
    started = time.perf_counter()
    table = _fetch(conn, f"SELECT {schema.SF_NAMES} FROM {schema.TABLE}")
    seconds = time.perf_counter() - started
    conn.close()
    return Timed(seconds, table.num_rows, note="one query, one connection")


def binary_kinds() -> list[binary_plan.Kind]:
    """The binary encoders snowpg picks for the benchmark's PostgreSQL table."""
    kinds = []
    for definition in schema.PG_COLUMNS.split(", "):
        pg_type = definition.split(" ", 1)[1].removesuffix(" PRIMARY KEY")
        kind = binary_plan.pg_kind(pg_type)
        assert kind is not None, pg_type
        kinds.append(kind)
    return kinds


def encode_all(tables: dict[int, pa.Table], fmt: str) -> tuple[Timed, dict[int, bytes]]:
    """snowpg's Arrow->CSV or Arrow->binary encoding of every chunk (CPU-bound, one thread).

    A binary chunk is complete COPY input: signature, tuples, trailer.
    """
    kinds = binary_kinds()
    json_cols = schema.JSON_COLUMNS

    def encode(t: pa.Table) -> bytes:
        if fmt == "csv":
            return bytes(encode_batch(t, json_columns=json_cols).data)
        body = binary.encode_binary_batch(t, kinds, json_columns=json_cols).data
        return binary.SIGNATURE + bytes(body) + binary.TRAILER

    cpu0, t0 = time.process_time(), time.perf_counter()
    encoded = {k: encode(t) for k, t in tables.items()}
    rows = sum(t.num_rows for t in tables.values())
    return Timed(time.perf_counter() - t0, rows, time.process_time() - cpu0), encoded


def sink_copy(dsn: str, encoded: dict[int, bytes], rows: int, threads: int, fmt: str) -> Timed:
    """COPY of already encoded data, one transaction per chunk, on ``threads`` connections."""
    table = f"bench_sink_{fmt}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")  # type: ignore[arg-type]
        conn.execute(f"CREATE TABLE {table} ({schema.PG_COLUMNS})")  # type: ignore[arg-type]
    conns = [psycopg.connect(dsn) for _ in range(threads)]
    stmt = f"COPY {table} ({schema.PG_NAMES}) FROM STDIN (FORMAT {fmt})"

    def one(no: int, key: int) -> None:
        conn = conns[no]
        with conn.cursor() as cur, cur.copy(stmt) as copy:  # type: ignore[arg-type]
            data = memoryview(encoded[key])
            for start in range(0, len(data), 8 << 20):
                copy.write(data[start : start + (8 << 20)])
        conn.commit()

    started, busy0 = time.perf_counter(), machine_busy()
    _parallel(sorted(encoded), threads, one)
    seconds = time.perf_counter() - started
    cores = cores_busy(busy0, machine_busy())
    for c in conns:
        c.close()
    settle(dsn, table)
    note = f"{fmt} COPY of pre-encoded data, {threads} connections; machine: {cores:.1f} cores busy"
    return Timed(seconds, rows, note=note)


def sink_adbc(dsn: str, tables: dict[int, pa.Table], rows: int, threads: int) -> Timed:
    """Binary COPY of the Arrow tables through ADBC's ``adbc_ingest`` (no CSV step at all)."""
    try:
        import adbc_driver_postgresql.dbapi as adbc
    except ImportError:
        return Timed(float("nan"), 0, note="adbc-driver-postgresql not installed")
    first = tables[min(tables)]
    with adbc.connect(dsn) as conn:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_sink_adbc")
            cur.adbc_ingest("bench_sink_adbc", first.slice(0, 0), mode="create")
        conn.commit()
    conns = [adbc.connect(dsn) for _ in range(threads)]

    def one(no: int, key: int) -> None:
        conn = conns[no]
        with conn.cursor() as cur:
            cur.adbc_ingest("bench_sink_adbc", tables[key], mode="append")
        conn.commit()

    started = time.perf_counter()
    _parallel(sorted(tables), threads, one)
    seconds = time.perf_counter() - started
    for c in conns:
        c.close()
    settle(dsn, "bench_sink_adbc")
    return Timed(seconds, rows, note=f"ADBC binary COPY, {threads} connections (types by ADBC)")

"""One worker: claim a chunk, read it from Snowflake, COPY it, mark it done — in one transaction.

The chunk's rows and its ``completed`` status commit together, so a chunk is either fully in the
target and marked done, or absent and claimable again. While the data transaction is open the
chunk's status row stays locked (``lock_claim``), so no other worker can take it over even if the
lease runs out; if this process dies, PostgreSQL rolls the transaction back and frees the row.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg

from snowpg.config import Settings
from snowpg.copy import binary_plan, upsert, writer
from snowpg.copy.binary_plan import CopyEncoding
from snowpg.errors import DataError, SnowpgError, TransientError
from snowpg.logs import redact
from snowpg.model import ChunkRange, SourceTable
from snowpg.sinks import MetricsSink, ProgressSink
from snowpg.source import connection as sf_connection
from snowpg.source import reader
from snowpg.source import sql as source_sql
from snowpg.source.errors import translate_sf_error
from snowpg.status import store
from snowpg.status.rows import ClaimedChunk, TableKey
from snowpg.target import catalog as pg_catalog
from snowpg.target import connection as pg_connection
from snowpg.target import ddl, watchdog

log = logging.getLogger("snowpg.copy")

T = TypeVar("T")

# Longest pause between retries of one chunk; the exponential series is capped here.
MAX_BACKOFF_S = 30.0
# Locking our own claimed chunk can meet another worker's momentary claim-scan lock; try again
# this many times, this far apart, before deciding the claim was lost.
LOCK_CLAIM_TRIES = 5
LOCK_CLAIM_PAUSE_S = 0.1
# How often an idle worker looks again for claimable chunks while others are still copying.
IDLE_POLL_S = 0.5


@dataclass(frozen=True)
class TableJob:
    """What a worker needs to copy the chunks of one table."""

    key: TableKey
    source: SourceTable
    source_columns: tuple[str, ...]
    target_schema: str
    target_table: str
    target_columns: tuple[str, ...]
    json_columns: tuple[str, ...]
    source_filter: str | None
    display_name: str
    nul_policy: str = "fail"  # "fail" | "strip" | "replace:<char>" (snowpg.copy.encode)
    copy_format: str = "auto"  # "auto": binary where every column can be; "csv": always CSV
    # Incremental tables: staging + merge, delete checks (snowpg.copy.upsert); None = plain COPY.
    upsert: upsert.UpsertSpec | None = None


@dataclass
class WorkerStats:
    chunks_completed: int = 0
    chunks_failed: int = 0
    retries: int = 0
    rows: int = 0
    bytes: int = 0
    lost_claims: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class WorkerContext:
    settings: Settings
    run_id: Any
    target_database: str
    source_database: str
    source_schema: str
    jobs: Mapping[TableKey, TableJob]
    table_limits: Mapping[TableKey, int]
    deadline: float | None  # time.monotonic() after which no new chunk is claimed
    stop: threading.Event
    progress: ProgressSink
    on_table_chunk_done: Callable[[Any, TableKey], None]
    # Chunks of each table this process is copying right now; table_limits cap them per process
    # (per-table parallel_threads is a per-invocation setting, as in the existing tool system).
    inflight: dict[TableKey, int] = field(default_factory=dict)
    claim_lock: threading.Lock = field(default_factory=threading.Lock)
    # Set when the run was replaced by a fresh run (its status turned 'failed' under us).
    abandoned: threading.Event = field(default_factory=threading.Event)
    # Each table's copy encoding, read once from the target's catalog (see copy_encoding).
    encodings: dict[TableKey, binary_plan.TableEncoding] = field(default_factory=dict)
    # Per-chunk metrics; the faces install a publishing sink (snowpg.observe.emf.EmfMetrics).
    metrics: MetricsSink = field(default_factory=MetricsSink)


class Worker:
    """Copies chunks until none is left, the deadline passes, or ``stop`` is set."""

    def __init__(self, ctx: WorkerContext, worker_id: str) -> None:
        self.ctx = ctx
        self.worker_id = worker_id
        self.stats = WorkerStats()
        self._pg: psycopg.Connection[Any] | None = None
        self._sf: Any = None
        self.deadline_reached = False

    # connections -------------------------------------------------------------------------
    def pg(self) -> psycopg.Connection[Any]:
        if self._pg is None or self._pg.closed or self._pg.broken:
            self._close_pg()
            self._pg = pg_connection.connect(
                self.ctx.settings.postgres,
                self.ctx.target_database,
                application_name="snowpg-worker",
            )
        return self._pg

    def sf(self) -> Any:
        if self._sf is None or self._sf.is_closed():
            self._sf = sf_connection.connect(
                self.ctx.settings.snowflake,
                database=self.ctx.source_database,
                schema=self.ctx.source_schema,
            )
        return self._sf

    def _close_pg(self) -> None:
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.close()
            self._pg = None

    def _close_sf(self) -> None:
        if self._sf is not None:
            with contextlib.suppress(Exception):
                self._sf.close()
            self._sf = None

    def close(self) -> None:
        self._close_pg()
        self._close_sf()

    # main loop ---------------------------------------------------------------------------
    def run(self) -> WorkerStats:
        try:
            while not self.ctx.stop.is_set():
                if self.ctx.deadline is not None and time.monotonic() >= self.ctx.deadline:
                    self.deadline_reached = True
                    break
                claim = self._claim()
                if claim is None:
                    if self._others_still_working():
                        time.sleep(IDLE_POLL_S)
                        continue
                    break
                try:
                    self._process(claim)
                finally:
                    self._release_slot(claim)
        finally:
            self.close()
        return self.stats

    def _claim(self) -> ClaimedChunk | None:
        ctx = self.ctx
        with ctx.claim_lock:
            # A limit of 0 keeps a table out of this claim: not selected, or at its thread cap.
            closed = {k: 0 for k, cap in ctx.table_limits.items() if ctx.inflight.get(k, 0) >= cap}
            claim = self._with_pg_retry(
                lambda conn: store.claim_chunk(
                    conn, ctx.run_id, self.worker_id, ctx.settings.lease_seconds, closed
                ),
                "claiming a chunk",
            )
            if claim is not None:
                ctx.inflight[claim.key.table] = ctx.inflight.get(claim.key.table, 0) + 1
        return claim

    def _release_slot(self, claim: ClaimedChunk) -> None:
        with self.ctx.claim_lock:
            self.ctx.inflight[claim.key.table] = max(
                0, self.ctx.inflight.get(claim.key.table, 1) - 1
            )

    def _others_still_working(self) -> bool:
        """True while a chunk of this process's tables is pending or being copied elsewhere."""
        abandoned, tables = self._with_pg_retry(
            lambda conn: (
                store.run_abandoned(conn, self.ctx.run_id),
                store.list_tables(conn, self.ctx.run_id),
            ),
            "reading table progress",
        )
        self.pg().rollback()
        if abandoned:  # replaced by a fresh run: no chunk of it is claimable
            self.ctx.abandoned.set()
            return False
        for row in tables:
            if row.key not in self.ctx.jobs or self.ctx.table_limits.get(row.key, 1) <= 0:
                continue
            if row.total_chunks - row.completed_chunks - row.failed_chunks > 0:
                return True
        return False

    def _with_pg_retry(self, fn: Callable[[psycopg.Connection[Any]], T], what: str) -> T:
        """Run a status operation, reconnecting with backoff when PostgreSQL is unavailable."""
        attempts = self.ctx.settings.max_retry_attempts
        for attempt in range(attempts + 1):
            try:
                conn = self.pg()
                with watchdog.guard(conn, what):
                    return fn(conn)
            except psycopg.Error as exc:
                err = pg_connection.translate_pg_error(exc, context=what)
                self._reset_pg()
                if not isinstance(err, TransientError) or attempt >= attempts:
                    raise err from exc
                self._sleep_backoff(attempt)
            except TransientError:
                self._reset_pg()
                if attempt >= attempts:
                    raise
                self._sleep_backoff(attempt)
            except BaseException:
                self._reset_pg()
                raise
        raise AssertionError("unreachable")

    def _reset_pg(self) -> None:
        """Roll back; keep a healthy connection (its backend pid marks our claims as alive)."""
        if self._pg is None:
            return
        if self._pg.closed or self._pg.broken:
            self._close_pg()
            return
        try:
            self._pg.rollback()
        except psycopg.Error:
            self._close_pg()

    def _sleep_backoff(self, attempt: int) -> None:
        base = self.ctx.settings.retry_backoff_seconds
        delay = min(MAX_BACKOFF_S, base * (2**attempt))
        time.sleep(delay * (0.5 + random.random() / 2))

    # one chunk ---------------------------------------------------------------------------
    def _process(self, claim: ClaimedChunk) -> None:
        job = self.ctx.jobs.get(claim.key.table)
        if job is None:  # a chunk of a table this process was not asked to copy
            self._with_pg_retry(lambda c: store.release_chunk(c, claim), "releasing a chunk")
            return
        retries = claim.retry_count  # recorded over the run's life, as the status row counts
        # Each claim gets the full budget: a chunk a rerun reopened after it exhausted its
        # retries is retried again, not failed at its first transient error.
        used = 0
        max_retries = self.ctx.settings.max_retry_attempts
        extra = {
            "run_id": self.ctx.run_id,
            "table": job.display_name,
            "chunk_id": claim.key.chunk_id,
        }
        while True:
            started = time.monotonic()
            try:
                with watchdog.guard(self.pg(), f"copying {job.display_name}") as guard:
                    result = self._copy_once(claim, job, guard)
            except store.RunAbandoned as exc:
                self._rollback_quietly()
                self.ctx.abandoned.set()
                self.ctx.stop.set()
                log.warning("%s; this process stops", exc.message, extra=extra)
                return
            except (_LostClaim, store.LostClaim):
                self._rollback_quietly()
                mine = self._with_pg_retry(
                    lambda c: store.committed_by(c, claim), "reading a chunk's outcome"
                )
                self._rollback_quietly()
                if mine is not None:
                    # An earlier attempt's COMMIT went through but its reply was lost.
                    self.stats.chunks_completed += 1
                    self.stats.rows += mine
                    self.ctx.progress.chunk_completed(job.display_name, mine, 0)
                    log.info(
                        "chunk was already committed by this worker (the reply to its COMMIT "
                        "was lost); not copied again",
                        extra=extra,
                    )
                    self._after_chunk(claim)
                    return
                self.stats.lost_claims += 1
                log.info("chunk taken over by another worker; moving on", extra=extra)
                return
            except Exception as exc:
                err = self._classify(exc, job, claim)
                self._rollback_quietly()
                message = redact(str(err))
                if isinstance(err, TransientError) and used < max_retries:
                    used += 1
                    before = retries
                    retries = self._with_pg_retry(
                        functools.partial(
                            _record_retry,
                            claim=claim,
                            message=message,
                            lease=self.ctx.settings.lease_seconds,
                        ),
                        "recording a retry",
                    )
                    # Counted as the status row counts it: not when the claim was gone.
                    self.stats.retries += 1 if retries > before else 0
                    retries = max(retries, before + 1)
                    self.ctx.progress.chunk_retried(job.display_name, claim.key.chunk_id, message)
                    log.warning(
                        "chunk failed (%s), retry %d of %d after backoff",
                        message,
                        used,
                        max_retries,
                        extra=extra,
                    )
                    self._sleep_backoff(used - 1)
                    continue
                self._with_pg_retry(
                    functools.partial(_fail_chunk, claim=claim, message=message), "failing a chunk"
                )
                self.stats.chunks_failed += 1
                self.stats.errors.append(
                    f"{job.display_name} chunk {claim.key.chunk_id}: {message}"
                )
                self.ctx.progress.chunk_failed(job.display_name, claim.key.chunk_id, message)
                log.error("chunk failed for good: %s", message, extra=extra)
                self._after_chunk(claim)
                return
            seconds = time.monotonic() - started
            if claim.planned_rows and result.rows > claim.planned_rows:
                log.warning(
                    "chunk %d of %s read %d rows where planning counted %d: the source table "
                    "gained rows since it was planned, or its source_filter matches more",
                    claim.key.chunk_id,
                    job.display_name,
                    result.rows,
                    claim.planned_rows,
                    extra=extra,
                )
            self.stats.chunks_completed += 1
            self.stats.rows += result.rows
            self.stats.bytes += result.bytes
            self.ctx.progress.chunk_completed(job.display_name, result.rows, result.bytes)
            log.debug(
                "chunk copied: %d rows in %.2fs",
                result.rows,
                seconds,
                extra={**extra, "rows": result.rows, "seconds": round(seconds, 3)},
            )
            self.ctx.metrics.chunk_copied(
                table=job.display_name,
                rows=result.rows,
                bytes_=result.bytes,
                seconds=seconds,
                retries=retries,
                run_id=self.ctx.run_id,
                chunk_id=claim.key.chunk_id,
            )
            self._after_chunk(claim)
            return

    def _after_chunk(self, claim: ClaimedChunk) -> None:
        try:
            self._with_pg_retry(
                lambda c: self.ctx.on_table_chunk_done(c, claim.key.table), "finishing a table"
            )
        except SnowpgError as exc:
            # The chunk itself is committed; the table is finished again by the run's final sweep.
            log.warning("could not finish table yet: %s", exc)

    def _lock_own_claim(self, conn: psycopg.Connection[Any], claim: ClaimedChunk) -> None:
        """Lock our chunk's status row for the data transaction, or raise _LostClaim.

        Another worker's claim scan may hold the row lock for a few milliseconds (a row it locked
        and then rejected on recheck), so a failed NOWAIT is tried again before giving up.
        """
        for attempt in range(LOCK_CLAIM_TRIES):
            if store.lock_claim(conn, claim, self.worker_id, self.ctx.settings.lease_seconds):
                return
            conn.rollback()
            if attempt + 1 < LOCK_CLAIM_TRIES:
                time.sleep(LOCK_CLAIM_PAUSE_S)
        raise _LostClaim()

    def _copy_once(
        self, claim: ClaimedChunk, job: TableJob, guard: watchdog.Guard
    ) -> writer.CopyResult:
        conn = self.pg()
        started = time.monotonic()
        self._lock_own_claim(conn, claim)
        rng = ChunkRange.from_json(claim.chunk_range)
        if job.upsert is not None and upsert.is_delete_check(job.upsert, claim.key.chunk_id):
            result = upsert.delete_chunk(
                conn, self.sf(), job.upsert, job.source, job.target_schema, job.target_table, rng
            )
            return self._complete(conn, claim, result, started)
        query, params = source_sql.select_chunk_sql(
            job.source, job.source_columns, job.source_filter, rng
        )
        table_encoding = self.copy_encoding(conn, job)
        copy_into = upsert.copy_target(conn, job.upsert, job.target_schema, job.target_table)
        copy_stmt = ddl.copy_from_stdin(
            *copy_into, job.target_columns, table_encoding.encoding.value
        )
        batches = guard.kicking(reader.read_chunk(self.sf(), query, params))
        with conn.cursor() as cur:
            result = writer.write_batches(
                cur,
                copy_stmt,
                batches,
                nul_policy=job.nul_policy,
                json_columns=job.json_columns,
                encoding=table_encoding.encoding,
                binary_kinds=table_encoding.kinds or (),
            )
        if result.nul_fixed:  # counted in the chunk's transaction, so never twice on a retry
            store.add_nul_fixed(conn, claim.key.table, result.nul_fixed)
        upsert.merge_chunk(
            conn, job.upsert, job.target_schema, job.target_table, job.target_columns
        )
        return self._complete(conn, claim, result, started)

    def copy_encoding(
        self, conn: psycopg.Connection[Any], job: TableJob
    ) -> binary_plan.TableEncoding:
        """The table's copy encoding (binary encoders from the target column types), planned once.

        A table with a column binary COPY cannot write, or with ``copy_format`` "csv", is copied
        with CSV, and the log says why.
        """
        with self.ctx.claim_lock:
            known = self.ctx.encodings.get(job.key)
        if known is not None:
            return known
        if job.copy_format == "csv":
            plan = binary_plan.TableEncoding.csv('copy_format is "csv"')
        else:
            plan = binary_plan.plan_kinds(self._column_pairs(conn, job))
        with self.ctx.claim_lock:
            if job.key not in self.ctx.encodings and plan.encoding is CopyEncoding.CSV:
                extra = {"table": job.display_name}
                if job.copy_format == "csv":
                    msg = 'table %s is copied with CSV COPY (copy_format "csv")'
                    log.info(msg, job.display_name, extra=extra)
                else:
                    msg = "table %s is copied with CSV COPY instead of binary: %s"
                    log.warning(msg, job.display_name, plan.reason, extra=extra)
            return self.ctx.encodings.setdefault(job.key, plan)

    @staticmethod
    def _column_pairs(conn: psycopg.Connection[Any], job: TableJob) -> list[binary_plan.ColumnPair]:
        """Each loaded column with its Snowflake type and its target's PostgreSQL type."""
        target = pg_catalog.table_columns(conn, job.target_schema, job.target_table) or []
        pg_types = {c.name: c.pg_type for c in target}
        pairs = []
        for src_name, tgt_name in zip(job.source_columns, job.target_columns, strict=True):
            col = job.source.column(src_name)
            pairs.append(
                binary_plan.ColumnPair(
                    name=tgt_name,
                    source_type=col.data_type if col is not None else "",
                    source_scale=col.scale if col is not None else None,
                    pg_type=pg_types.get(tgt_name, "missing"),
                )
            )
        return pairs

    def _complete(
        self,
        conn: psycopg.Connection[Any],
        claim: ClaimedChunk,
        result: writer.CopyResult,
        started: float,
    ) -> writer.CopyResult:
        store.complete_chunk(
            conn,
            claim,
            rows_copied=result.rows,
            bytes_copied=result.bytes,
            duration_seconds=time.monotonic() - started,
        )
        conn.commit()
        return result

    def _classify(self, exc: BaseException, job: TableJob, claim: ClaimedChunk) -> SnowpgError:
        where = f"table {job.display_name} chunk {claim.key.chunk_id}"
        if isinstance(exc, DataError):
            return DataError(f"{where}: {exc}", table=job.display_name, chunk_id=claim.key.chunk_id)
        if isinstance(exc, psycopg.Error):
            # The PostgreSQL connection is kept unless it is broken (see _reset_pg).
            return pg_connection.translate_pg_error(exc, context=f"writing {where}")
        if isinstance(exc, SnowpgError):
            if isinstance(exc, TransientError):
                self._close_sf()
            return exc
        mod = type(exc).__module__
        if mod.startswith(("snowflake", "requests", "urllib3")) or isinstance(exc, OSError):
            self._close_sf()
            return translate_sf_error(exc, context=f"reading {where}")
        return SnowpgError(f"{where}: unexpected {type(exc).__name__}: {redact(str(exc))}")

    def _rollback_quietly(self) -> None:
        self._reset_pg()


class _LostClaim(Exception):
    """The chunk's lease moved to another worker before this one locked it."""


def _record_retry(
    conn: psycopg.Connection[Any], *, claim: ClaimedChunk, message: str, lease: int
) -> int:
    return store.record_retry(conn, claim, message, lease)


def _fail_chunk(conn: psycopg.Connection[Any], *, claim: ClaimedChunk, message: str) -> None:
    store.fail_chunk(conn, claim, message)
